"""Observability figures: /metrics scrape time with 1,000 tenants, and the cost of
structured logging per request.

    .venv/bin/python -m bench.observability            # both, ~1 min
    .venv/bin/python -m bench.observability --tenants 1000 --timers-per-tenant 10

Scrape: re-creates the database ``qrefund_bench_ops`` (``QREFUND_BENCH_OPS_DATABASE_URL``),
creates an operator and N merchants (half under agencies) through the services, then
inserts ``--timers-per-tenant`` live deadline timers per merchant (a third on track, a
third near, a third past due) and queues jobs in Redis (``--redis``, default db 13,
flushed first); it then times ``/metrics`` rendering (queues from Redis, the two
aggregate statements, every recorded metric) ``--scrapes`` times and prints the median
and p95.

Logs: the API in-process (httpx's ASGI transport, no network) answering ``viewer`` on
SQLite, with one access line per request as uvicorn writes it; once with logging off
(level CRITICAL) and once with the production chain (structlog JSON with context and
redaction, to /dev/null). Prints per-request times and the difference, and the cost of
one log line alone.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import statistics
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
from redis import Redis
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from bench.common import recreate_database
from qrefund.app import create_app
from qrefund.jobs import runtime
from qrefund.jobs.monitoring import render
from qrefund.jobs.registry import QUEUES
from qrefund.migrations.runner import migrate
from qrefund.observability.logs import configure_logging
from qrefund.platform.clock import utcnow
from qrefund.platform.config import Settings
from qrefund.platform.db import Database, sync_url
from qrefund.tenants import service as tenants
from qrefund.tenants.auth import authenticate
from qrefund.tenants.bootstrap import bootstrap

KEY = "bench:" + "Q" * 43
DB_URL = os.environ.get("QREFUND_BENCH_OPS_DATABASE_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/qrefund_bench_ops")



async def _tenants(db: Database, count: int) -> list[uuid.UUID]:
    _, key = await bootstrap(db)
    scope = await authenticate(db, key)
    made: list[uuid.UUID] = []
    async with db.unit_of_work(scope) as uow:
        agencies = [await tenants.create_agency(uow, name=f"Agency {i}", slug=f"agency-{i}")
                    for i in range(max(count // 20, 1))]
    for start in range(0, count, 100):
        async with db.unit_of_work(scope) as uow:
            for i in range(start, min(start + 100, count)):
                parent = agencies[i % len(agencies)].id if i % 2 else None
                merchant = await tenants.create_merchant(
                    uow, name=f"Merchant {i}", slug=f"merchant-{i}", agency_id=parent,
                    timezone="Asia/Shanghai", default_currency="CNY")
                made.append(merchant.id)
    return made


def _timers(url: str, merchants: list[uuid.UUID], per_tenant: int) -> int:
    now = utcnow()
    rows = []
    for tenant in merchants:
        for n in range(per_tenant):
            offset = (-2, 1, 30)[n % 3]  # past due, near (warned), on track (hours)
            due = now + timedelta(hours=offset)
            rows.append({"t": tenant, "s": uuid.uuid4(), "st": "refund_case", "n": "sla",
                         "k": random.choice(("review", "completion")),
                         "start": due - timedelta(hours=48), "due": due,
                         "warn": due - timedelta(hours=12), "next": due, "now": now})
    engine = create_engine(sync_url(url), poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO deadline_timers (tenant_id, subject_type, subject_id, name, kind, "
            "started_at, due_at, warn_at, escalations, next_check_at, failures, updated_at) "
            "VALUES (:t, :st, :s, :n, :k, :start, :due, :warn, 0, :next, 0, :now)"), rows)
        conn.execute(text("ANALYZE"))
    engine.dispose()
    return len(rows)


async def scrape_figures(args: argparse.Namespace) -> None:
    recreate_database(DB_URL)
    settings = Settings(database_url=DB_URL, encryption_key=KEY, redis_url=args.redis,
                        environment="test", _env_file=None)  # type: ignore[call-arg]
    migrate(settings)
    redis = Redis.from_url(args.redis)
    redis.flushdb()
    runtime.configure(settings=settings, redis=redis)
    for name in QUEUES:
        for _ in range(50):
            runtime.queue(name, redis).enqueue("qrefund.jobs.relay.relay_events", [])
    db = Database(settings)
    merchants = await _tenants(db, args.tenants)
    timers = _timers(DB_URL, merchants, args.timers_per_tenant)
    await render(db, settings)  # warm: connections, statement caches
    took = []
    for _ in range(args.scrapes):
        started = time.perf_counter()
        body = await render(db, settings)
        took.append(time.perf_counter() - started)
    await db.dispose()
    took.sort()
    p95 = took[min(len(took) - 1, int(len(took) * 0.95))]
    print(f"scrape: {len(merchants)} merchants, {timers} live deadline timers, "
          f"{50 * len(QUEUES)} queued jobs, {len(body)} bytes")
    print(f"scrape: median {statistics.median(took) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms "
          f"over {len(took)} scrapes")


async def _requests(client: httpx.AsyncClient, key: str, count: int) -> list[float]:
    access = logging.getLogger("uvicorn.access")
    took = []
    for _ in range(count):
        started = time.perf_counter()
        response = await client.post("/graphql", json={"query": "query Who { viewer { role } }"},
                                     headers={"Authorization": f"Bearer {key}"})
        # uvicorn's access line, as its protocol writes it after each response
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "POST", "/graphql", "1.1",
                    response.status_code)
        took.append(time.perf_counter() - started)
        assert response.status_code == 200
    return took


async def log_figures(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="qrefund-bench-logs-"))
    settings = Settings(database_url=f"sqlite+aiosqlite:///{folder / 'bench.db'}",
                        encryption_key=KEY, environment="test", rate_limit_enabled=False,
                        _env_file=None)  # type: ignore[call-arg]
    migrate(settings)
    db = Database(settings)
    _, key = await bootstrap(db)
    transport = httpx.ASGITransport(app=create_app(settings, db))
    sink = open(os.devnull, "w")  # noqa: SIM115, ASYNC230 - open for the whole run
    results: dict[str, float] = {}
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        await _requests(client, key, 50)  # warm-up
        for round_ in range(args.rounds):
            for mode in ("none", "structured"):
                configure_logging("CRITICAL" if mode == "none" else "INFO", "json", stream=sink)
                took = await _requests(client, key, args.requests)
                results[mode] = min(results.get(mode, 1e9), statistics.median(took))
            del round_
    await db.dispose()
    line = logging.getLogger("qrefund.bench")
    configure_logging("INFO", "json", stream=sink)
    started = time.perf_counter()
    for i in range(args.requests):
        line.info("payout %s for case %s answered %s", i, uuid.uuid4(), "SUCCEEDED")
    per_line = (time.perf_counter() - started) / args.requests
    none, structured = results["none"], results["structured"]
    print(f"logs: per request (median, best of {args.rounds} rounds of {args.requests}): "
          f"none {none * 1000:.2f} ms, structured {structured * 1000:.2f} ms, "
          f"overhead {(structured - none) * 1000:.3f} ms ({(structured / none - 1) * 100:+.1f}%)")
    print(f"logs: one structured JSON line with context and redaction: {per_line * 1e6:.0f} µs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--timers-per-tenant", type=int, default=10)
    parser.add_argument("--scrapes", type=int, default=20)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=("scrape", "logs"))
    args = parser.parse_args()
    if args.only != "logs":
        asyncio.run(scrape_figures(args))
    if args.only != "scrape":
        asyncio.run(log_figures(args))


if __name__ == "__main__":
    main()
