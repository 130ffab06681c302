"""Throughput through PgBouncer (transaction mode) vs straight to PostgreSQL.

    .venv/bin/python -m bench.pgbouncer [--clients 8] [--duration 8]

Re-creates the database ``qrefund_bench_pool`` (next to ``QREFUND_BENCH_DATABASE_URL``),
migrates it, seeds the demo tenants (two merchants, 200 transactions each), starts a
real PgBouncer on a loopback port (``pool_mode = transaction``, 4 server connections)
and measures, each way:

* API requests/s: the ``transactions`` first page (20 rows) through the in-process ASGI
  app, ``--clients`` concurrent callers alternating the two merchants' keys;
* short transactions/s at the database alone: the unit of work's scope statement plus a
  one-row read, from 32 client connections (more clients than server connections, the
  case a pooler is for).

Prints both figures and the pooled/direct ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bench.common import DATABASE_URL, ENCRYPTION_KEY, recreate_database
from qrefund.app import create_app
from qrefund.demo import seed_demo
from qrefund.migrations.runner import migrate
from qrefund.platform.config import Settings
from qrefund.platform.db import Database, async_url
from tests.support.pgbouncer import BINARY, MISSING, running_pgbouncer

URL = make_url(DATABASE_URL).set(database="qrefund_bench_pool").render_as_string(
    hide_password=False)
PAGE = "{ transactions(first: 20) { edges { node { id merchantOrderNo amount { amount } } } } }"


def _settings(url: str, pooled: bool) -> Settings:
    return Settings(database_url=url, encryption_key=ENCRYPTION_KEY, environment="test",
                    db_transaction_pooler=pooled, db_pool_size=8,
                    rate_limit_enabled=False, _env_file=None)  # type: ignore[call-arg]



async def _seed() -> list[str]:
    settings = _settings(URL, pooled=False)
    migrate(settings)
    db = Database(settings)
    try:
        keys = (await seed_demo(db, transactions_per_merchant=200)).keys
    finally:
        await db.dispose()
    return [keys["jade-tea ADMIN"], keys["lucky-noodle ADMIN"]]


async def _drive(call: Callable[[int], Awaitable[None]], clients: int,
                 duration: float) -> tuple[float, float]:
    """(operations/s, p50 ms) of ``clients`` loops calling ``call`` for ``duration``."""
    latencies: list[float] = []
    stop = time.monotonic() + duration

    async def loop(n: int) -> None:
        while time.monotonic() < stop:
            start = time.perf_counter()
            await call(n)
            latencies.append(time.perf_counter() - start)

    began = time.monotonic()
    await asyncio.gather(*(loop(n) for n in range(clients)))
    return len(latencies) / (time.monotonic() - began), statistics.median(latencies) * 1000


async def _api(url: str, pooled: bool, keys: list[str], clients: int,
               duration: float) -> tuple[float, float]:
    settings = _settings(url, pooled)
    db = Database(settings)
    transport = httpx.ASGITransport(app=create_app(settings, db))
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

        async def page(n: int) -> None:
            r = await client.post("/graphql", json={"query": PAGE},
                                  headers={"Authorization": f"Bearer {keys[n % 2]}"})
            assert r.status_code == 200 and "errors" not in r.json(), r.text

        await _drive(page, clients, 1.0)  # warm-up
        figures = await _drive(page, clients, duration)
    await db.dispose()
    return figures


async def _transactions(url: str, duration: float) -> tuple[float, float]:
    engine = create_async_engine(async_url(url), pool_size=32,
                                 connect_args={"prepare_threshold": None})

    async def unit(_n: int) -> None:
        async with engine.begin() as conn:
            await conn.execute(text(
                "SELECT set_config('qrefund.tenant_ids', '', true), "
                "set_config('qrefund.all_tenants', 'on', true), "
                "set_config('role', 'qrefund_app', true)"))
            await conn.execute(text("SELECT id FROM tenants LIMIT 1"))

    await _drive(unit, 32, 1.0)
    figures = await _drive(unit, 32, duration)
    await engine.dispose()
    return figures


async def main(clients: int, duration: float) -> None:
    if BINARY is None:
        raise SystemExit(MISSING)
    recreate_database(URL)
    keys = await _seed()
    with running_pgbouncer(URL, pool_size=4) as pooled_url:
        rows = [
            ("API transactions page", await _api(URL, False, keys, clients, duration),
             await _api(pooled_url, True, keys, clients, duration)),
            ("scope + one-row read", await _transactions(URL, duration),
             await _transactions(pooled_url, duration)),
        ]
    print(f"{'what':<24}{'direct/s':>10}{'p50 ms':>8}{'pgbouncer/s':>13}{'p50 ms':>8}"
          f"{'ratio':>7}")
    for what, (direct, d50), (pooled, p50) in rows:
        print(f"{what:<24}{direct:>10.1f}{d50:>8.1f}{pooled:>13.1f}{p50:>8.1f}"
              f"{pooled / direct:>7.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=8.0)
    args = parser.parse_args()
    asyncio.run(main(args.clients, args.duration))
