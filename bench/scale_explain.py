"""EXPLAIN (ANALYZE, BUFFERS) of the statements the API itself runs for one request.

The API is built in this process (``qrefund.app.create_app``, production settings),
one GraphQL request is sent to it through httpx's ASGI transport while every statement
its engines execute is captured (SQL and parameters as sent to PostgreSQL); then each
captured statement on the page's tables is run again under ``EXPLAIN (ANALYZE,
BUFFERS)`` in a read-only unit of work of the key's own scope: the connection acts as
the application role and the unit publishes the tenant setting first, as for a
request, so row-level security applies. Each plan is printed with the role and the
tenant setting it ran under.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import event

from bench.common import ENCRYPTION_KEY
from qrefund.app import create_app
from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from qrefund.tenants.auth import authenticate

PAGE_TABLES = ("refund_cases", "refund_case_events", "transactions")


@dataclass
class Plan:
    statement: str
    role: str
    tenant_ids: str
    lines: list[str]

    @property
    def execution_ms(self) -> float:
        found = re.search(r"Execution Time: ([\d.]+) ms", "\n".join(self.lines))
        return float(found.group(1)) if found else 0.0

    def summary(self) -> str:
        """The table scans, rows the filters threw away, what the top node returned and
        the execution time: the figures to look at."""
        scans = [x.strip().lstrip("-> ").split("  (")[0] for x in self.lines
                 if re.search(r"(Index|Index Only|Seq|Bitmap Heap) Scan", x)]
        removed = sum(int(n) for n in re.findall(r"Rows Removed by Filter: (\d+)",
                                                  "\n".join(self.lines)))
        top = re.search(r"rows=(\d+) loops", self.lines[0]) if self.lines else None
        return (f"{'; '.join(scans)}; rows removed by filters: {removed}; top node returned "
                f"{top.group(1) if top else '?'} rows; {self.execution_ms:.3f} ms")

    def as_json(self) -> dict[str, Any]:
        return {"statement": self.statement, "role": self.role, "tenant_ids": self.tenant_ids,
                "execution_ms": self.execution_ms, "plan": self.lines}


def settings_for(database_url: str, redis_url: str) -> Settings:
    """The settings ``bench.compare`` serves the API with."""
    return Settings(database_url=database_url, encryption_key=ENCRYPTION_KEY,  # type: ignore[call-arg]
                    environment="production", redis_url=redis_url,
                    public_base_url="https://bench.invalid", log_level="WARNING",
                    rate_limit_per_key="100000000/minute", _env_file=None)


async def _captured(db: Database, settings: Settings, key: str,
                    body: dict[str, Any]) -> list[tuple[str, Any]]:
    """The page-table statements one request runs (its answer must have no errors)."""
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if any(t in statement for t in PAGE_TABLES) and "api_keys" not in statement:
            captured.append((statement, params))

    app = create_app(settings, db)
    engines = {id(e): e for e in (db.read_engine.sync_engine, db.write_engine.sync_engine)}
    for engine in engines.values():
        event.listen(engine, "before_cursor_execute", capture)
    try:
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
            response = await client.post("/graphql", json=body,
                                         headers={"Authorization": f"Bearer {key}"})
    finally:
        for engine in engines.values():
            event.remove(engine, "before_cursor_execute", capture)
    answer = response.json()
    if response.status_code != 200 or answer.get("errors"):
        raise SystemExit(f"EXPLAIN capture: the API answered {response.status_code}: "
                         f"{json.dumps(answer)[:800]}")
    return captured


async def explain_request(database_url: str, redis_url: str, key: str,
                          body: dict[str, Any], only_first: bool = False) -> list[Plan]:
    """Plans of the page-table statements of one API request (``only_first``: of the
    first one, the page statement itself)."""
    settings = settings_for(database_url, redis_url)
    db = Database(settings)
    try:
        captured = await _captured(db, settings, key, body)
        if only_first:
            captured = captured[:1]
        scope = await authenticate(db, key)
        plans = []
        for statement, params in captured:
            async with db.unit_of_work(scope, readonly=True) as uow:
                conn = await uow._session.connection()
                role, tenants = tuple((await conn.exec_driver_sql(
                    "SELECT current_user, current_setting('qrefund.tenant_ids', true)")).one())
                rows = await conn.exec_driver_sql(
                    "EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
                plans.append(Plan(statement.strip(), str(role), str(tenants),
                                  [r[0] for r in rows]))
        return plans
    finally:
        await db.dispose()


def print_plans(title: str, plans: list[Plan]) -> None:
    for n, plan in enumerate(plans, 1):
        print(f"\n--- {title}: statement {n} of {len(plans)}, as role {plan.role}, "
              f"qrefund.tenant_ids = {plan.tenant_ids}")
        print(plan.statement)
        print("EXPLAIN (ANALYZE, BUFFERS):")
        print("\n".join(plan.lines))
        print(f"=> {plan.summary()}")
