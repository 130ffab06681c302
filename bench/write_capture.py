"""What each measured write does at the database, API and write floor side by side.

    .venv/bin/python -m bench.write_capture [--merchant N] [--full]

One ``submitRefundRequest``, then ``startRefundReview`` and ``approveRefund`` on the
case it opened, on the API and on the floor (``bench.writes_floor``), each on a spare
payment of merchant N (default: the last one) that has no case yet, with the keys of
``bench.refund_cases generate``. Both run in this process through ASGI (no server,
no wrk): the API is ``qrefund.app:create_app`` with the benchmark's production
settings; SQLAlchemy's ``before_cursor_execute`` event (and its begin, commit and
savepoint events) on the API's engine records every statement, PostgreSQL's statement
log stays off. The floor's pool hands out connections whose cursors record what they
run (and whose ``transaction()`` records BEGIN and COMMIT). Every key makes one request
first, so the API's key look-up is cached as it is in a timed run. Per mutation it
prints both statement lists (shortened: column lists counted, casts dropped; ``--full``
prints them whole) and the row deltas of ``bench.write_rows``, and whether they are
equal. Everything goes to ``bench/results/write_capture.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import psycopg
from psycopg import AsyncConnection, AsyncCursor
from psycopg_pool import AsyncConnectionPool
from starlette.applications import Starlette

from bench import write_rows
from bench.common import RESULTS, libpq_url
from bench.compare import REDIS_URL, WRITE_PATHS, _mutation_body
from bench.refund_cases import DATABASE_URL, ENCRYPTION_KEY, _load_keys
from bench.writes_floor import write_routes

LOG: list[str] = []


class TracingCursor(AsyncCursor[Any]):
    async def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        LOG.append(query if isinstance(query, str) else query.as_string(self))
        return await super().execute(query, params, **kwargs)


class TracingConnection(AsyncConnection[Any]):
    @asynccontextmanager
    async def transaction(self, savepoint_name: str | None = None,  # type: ignore[override]
                          force_rollback: bool = False) -> AsyncIterator[Any]:
        LOG.append("BEGIN")
        try:
            async with super().transaction(savepoint_name, force_rollback) as tx:
                yield tx
        except BaseException:
            LOG.append("ROLLBACK")
            raise
        LOG.append("COMMIT")


def _top_level(text: str) -> tuple[int, list[str]]:
    """Commas at parenthesis depth 0, and the tables the nested parts read."""
    depth, commas = 0, 0
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        commas += ch == "," and depth == 0
    return commas, re.findall(r"\(SELECT .*? FROM (\w+)", text)


def _columns(n: int) -> str:
    return f"<{n} column{'s' if n > 1 else ''}>"


def _select(m: re.Match[str]) -> str:
    commas, nested = _top_level(m.group(1))
    inner = f" + subqueries on {', '.join(nested)}" if nested else ""
    return f"SELECT {_columns(commas + 1)[:-1]}{inner}> FROM "


def _from_at_depth_0(s: str) -> int:
    depth = 0
    for i, ch in enumerate(s):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0 and s.startswith(" FROM ", i):
            return i
    return -1


def brief(statement: str, width: int = 200) -> str:
    """One line: whitespace collapsed, casts and bind names dropped, column lists counted."""
    s = re.sub(r"\s+", " ", statement).strip()
    s = re.sub(r"::[A-Z]+(?: WITH(?:OUT)? TIME ZONE)?", "", s)
    s = re.sub(r"%\((\w+)\)s", r":\1", s)
    cut = _from_at_depth_0(s)
    if s.startswith("SELECT ") and "set_config" not in s and cut > 0:
        s = re.sub(r"^SELECT (.*)$", _select, s[:cut + 1]) + s[cut + 6:]
    s = re.sub(r"^INSERT INTO (\w+) \(([^)]*)\) VALUES \(.*?\)( ON CONFLICT|$)",
               lambda m: f"INSERT INTO {m.group(1)} {_columns(m.group(2).count(',') + 1)}"
                         f"{m.group(3)}", s)
    s = re.sub(r" RETURNING ([^()]+)$",
               lambda m: f" RETURNING {_columns(m.group(1).count(',') + 1)}", s)
    return s if len(s) <= width else f"{s[:width - 60]} ... {s[-55:]}"


def _environment() -> None:
    os.environ.update({
        "QREFUND_DATABASE_URL": DATABASE_URL, "QREFUND_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "QREFUND_ENVIRONMENT": "production", "QREFUND_REDIS_URL": REDIS_URL,
        "QREFUND_PUBLIC_BASE_URL": "https://bench.invalid",
        "QREFUND_RATE_LIMIT_PER_KEY": "100000000/minute", "QREFUND_LOG_LEVEL": "WARNING"})


def _api_app() -> Starlette:
    from sqlalchemy import event

    from qrefund.app import create_app
    from qrefund.platform.config import get_settings
    from qrefund.platform.db import Database

    settings = get_settings()
    db = Database(settings)
    engine = db.write_engine.sync_engine

    def statement(_conn: Any, _cursor: Any, text: str, *_args: Any) -> None:
        LOG.append(text)

    event.listen(engine, "before_cursor_execute", statement)
    for name in ("begin", "commit", "rollback"):  # savepoints are statements: logged above
        event.listen(engine, name, (lambda n: lambda *_a: LOG.append(n))(name.upper()))
    return create_app(settings, db)


async def _configure(conn: AsyncConnection[Any]) -> None:
    await conn.execute('SET ROLE "qrefund_app"')
    await conn.commit()


def spare_payments(tenant: uuid.UUID, spare: list[str], n: int) -> list[str]:
    """``n`` spare payments of the merchant that no case has used yet (from the end of
    its list: ``bench.compare`` takes its own from the start)."""
    with psycopg.connect(libpq_url(DATABASE_URL)) as conn:
        unused = {str(r[0]) for r in conn.execute(
            "SELECT id FROM transactions WHERE tenant_id = %s AND id = ANY(%s) "
            "AND refund_count = 0", (tenant, [uuid.UUID(p) for p in spare])).fetchall()}
    found = [p for p in reversed(spare) if p in unused][:n]
    if len(found) < n:
        raise SystemExit(f"merchant {tenant} has fewer than {n} unused spare payments: run "
                         "`python -m bench.refund_cases generate` again")
    return found


async def _warm(client: httpx.AsyncClient, path: str, data: dict[str, Any], merchant: int) -> None:
    for role in ("INTEGRATION", "REFUND_AGENT"):
        await client.post(path, json={"query": "{ __typename }"}, headers={
            "Authorization": f"Bearer {data['keys'][f'{merchant}:{role}']}"})


async def capture(merchant: int) -> dict[str, list[write_rows.Outcome]]:
    """Both sides' three mutations (API first, then the floor), on a payment each."""
    _environment()
    data = _load_keys()
    tenant = uuid.UUID(data["merchants"][merchant])
    payments = spare_payments(tenant, data["spare_by_merchant"][merchant], 2)
    api = _api_app()
    database = libpq_url(DATABASE_URL)
    sides: dict[str, list[write_rows.Outcome]] = {}
    async with api.router.lifespan_context(api), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=api), base_url="http://api") as client:
        await _warm(client, "/graphql", data, merchant)
        sides["api"] = await write_rows.write_once(client, WRITE_PATHS["api"], _mutation_body,
                                                   data, merchant, payments[0], database, LOG)
    pool = AsyncConnectionPool(libpq_url(DATABASE_URL), min_size=1, max_size=1, open=False,
                               configure=_configure, connection_class=TracingConnection,
                               kwargs={"cursor_factory": TracingCursor})
    floor = Starlette(routes=write_routes(pool))
    await pool.open(wait=True)  # its connection's SET ROLE is not part of a request
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=floor),
                                     base_url="http://floor") as client:
            sides["floor"] = await write_rows.write_once(
                client, WRITE_PATHS["floor"], _mutation_body, data, merchant, payments[1],
                database, LOG)
    finally:
        await pool.close()
    return sides


def report(sides: dict[str, list[write_rows.Outcome]], full: bool) -> bool:
    equal = True
    for api, floor in zip(sides["api"], sides["floor"], strict=True):
        print(f"\n== {api.mutation} (floor: {WRITE_PATHS['floor'][api.mutation]})")
        for name, side in (("API", api), ("floor", floor)):
            print(f"{name}: {len(side.statements)} lines, answered {side.status}")
            for i, statement in enumerate(side.statements, 1):
                print(f"  {i:2d} {statement if full else brief(statement)}")
        print(f"rows API:   {write_rows.summary(api.deltas)}")
        print(f"rows floor: {write_rows.summary(floor.deltas)}")
        found = write_rows.differences(api.deltas, floor.deltas, "API", "floor")
        if api.status != floor.status:
            found.append(f"status: API {api.status}, floor {floor.status}")
        print("equal (counts, row shapes, status)" if not found else "DIFFERENT:")
        for line in found:
            print(f"  {line}")
        equal = equal and not found
    return equal


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--merchant", type=int, default=-1,
                        help="index of the merchant (default: the last)")
    parser.add_argument("--full", action="store_true", help="statements in full")
    args = parser.parse_args()
    merchant = args.merchant % len(_load_keys()["merchants"])
    sides = asyncio.run(capture(merchant))
    equal = report(sides, args.full)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "write_capture.json").write_text(json.dumps(
        {side: [{**vars(o), "deltas": {t: vars(d) for t, d in o.deltas.items()}} for o in runs]
         for side, runs in sides.items()}, indent=2))
    if not equal:
        raise SystemExit("the floor's writes differ from the API's")


if __name__ == "__main__":
    main()
