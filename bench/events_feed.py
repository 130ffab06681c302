"""The ``events`` feed's page latency at 1,000,000 outbox events.

    .venv/bin/python -m bench.events_feed [--events 1000000] [--repeat 40] [--skip-load]

Re-creates the database named by QREFUND_BENCH_EVENTS_DATABASE_URL (default
``qrefund_bench_events``, its own so other benchmarks keep theirs), migrates, loads
tenants as bench.generate does (20 agencies of 10 merchants, 30 standalone) and N
``domain_events`` by COPY: a long tail over the merchants (the largest has ~8 %), a
per-tenant sequence, a year of ``occurred_at``, and a mix of event types close to a
live stream (refund cases, payouts, complaints, transactions); then ``VACUUM ANALYZE``.

It then reads pages exactly as the API's resolver does
(:func:`qrefund.platform.events.feed.events_page` in a read-only unit of the caller's
scope, as ``qrefund_app``, so row-level security applies), for a merchant key and for
an agency key following its ten merchants, at the start of the stream (no cursor), in
the middle (each tenant's cursor at half its head) and at the tail (50 events before
each head), with no type filter, a family filter (``refund_case.*``) and a rare exact
type (``refund_case.payout_failed``, ~0.5 % of events). Each cell is ``--repeat``
pages of 50; it prints p50 and p99 in ms, then EXPLAIN (ANALYZE, BUFFERS) of the
per-tenant page statement for the slowest filter.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from bench.common import ENCRYPTION_KEY, libpq_url, recreate_database
from bench.generate import tenants
from qrefund.jobs import runtime
from qrefund.migrations.runner import migrate
from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from qrefund.platform.events.feed import events_page
from qrefund.platform.ids import new_id
from qrefund.platform.outbox import feed
from qrefund.tenants.auth import authenticate
from qrefund.tenants.service import KEY_PREFIX, format_key, hash_secret

DATABASE_URL = os.environ.get(
    "QREFUND_BENCH_EVENTS_DATABASE_URL",
    "postgresql+psycopg://postgres@127.0.0.1:5432/qrefund_bench_events")

# (type, aggregate type, weight): roughly what a live stream holds.
TYPES = [
    ("transaction.recorded", "transaction", 40), ("refund_case.submitted", "refund_case", 10),
    ("refund_case.review_started", "refund_case", 9), ("refund_case.approved", "refund_case", 8),
    ("refund_case.processing", "refund_case", 8), ("refund_case.refunded", "refund_case", 7),
    ("refund_case.rejected", "refund_case", 1), ("refund_case.deadline_warning", "refund_case", 3),
    ("refund_case.payout_failed", "refund_case", 0.5), ("payout.created", "payout", 8),
    ("payout.succeeded", "payout", 7), ("complaint.opened", "complaint", 1),
    ("complaint.replied", "complaint", 1), ("complaint.resolved", "complaint", 0.5),
]
FILTERS: dict[str, list[str] | None] = {
    "all types": None, "family refund_case.*": ["refund_case.*"],
    "rare type": ["refund_case.payout_failed"]}
PAGE = 50


def _events(merchants: list[Any], total: int, rng: random.Random, now: datetime,
            seqs: Counter[Any]) -> Any:
    """The rows to COPY; ``seqs`` ends up holding each tenant's head."""
    weights = [1 / (rank + 1) ** 0.9 for rank in range(len(merchants))]
    owners = rng.choices(merchants, weights=weights, k=total)
    kinds = rng.choices(TYPES, weights=[w for _, _, w in TYPES], k=total)
    start = now - timedelta(days=365)
    step = timedelta(days=365) / total
    for i, (tenant_id, (type_, aggregate, _)) in enumerate(zip(owners, kinds, strict=True)):
        seqs[tenant_id] += 1
        aggregate_id = new_id()
        payload = json.dumps({"merchantId": str(tenant_id), "status": type_.split(".")[1].upper(),
                              "id": str(aggregate_id), "amountMinor": rng.randint(100, 50_000)})
        at = start + step * i
        yield (tenant_id, new_id(), seqs[tenant_id], type_, aggregate, aggregate_id, payload,
               "bench", at, at)


def load(total: int) -> None:
    recreate_database(DATABASE_URL)
    migrate(Settings(database_url=DATABASE_URL, _env_file=None))  # type: ignore[call-arg]
    args = argparse.Namespace(agencies=20, merchants_per_agency=10, standalone=30)
    now = datetime.now(UTC)
    tenant_rows, merchants = tenants(args, now)
    started = time.perf_counter()
    with psycopg.connect(libpq_url(DATABASE_URL)) as conn, conn.cursor() as cur:
        with cur.copy("COPY tenants (id, kind, parent_id, name, slug, timezone, country, "
                      "default_currency, status, created_at) FROM STDIN") as copy:
            for row in tenant_rows:
                copy.write_row(row)
        seqs: Counter[Any] = Counter()
        with cur.copy("COPY domain_events (tenant_id, id, seq, type, aggregate_type, "
                      "aggregate_id, payload, actor, occurred_at, relayed_at) FROM STDIN") as copy:
            for row in _events(merchants, total, random.Random(7), now, seqs):
                copy.write_row(row)
        with cur.copy("COPY tenant_sequences (tenant_id, name, value) FROM STDIN") as copy:
            for tenant_id, value in seqs.items():
                copy.write_row((tenant_id, "events", value))
        conn.commit()
        conn.autocommit = True
        cur.execute("VACUUM ANALYZE")
    print(f"loaded {total:,} events over {len(seqs)} merchants in "
          f"{time.perf_counter() - started:.0f} s")


def _key(conn: psycopg.Connection[Any], tenant_id: Any) -> str:
    key_id, tag, secret = new_id(), "b" + uuid.uuid4().hex[:7], uuid.uuid4().hex
    conn.execute("INSERT INTO api_keys (tenant_id, id, name, role, prefix, secret_hash, "
                 "created_at) VALUES (%s, %s, 'bench', 'VIEWER', %s, %s, now())",
                 (tenant_id, key_id, f"{KEY_PREFIX}{tag}", hash_secret(secret)))
    return format_key(tag, tenant_id, key_id, secret)


def callers() -> dict[str, tuple[str, dict[Any, int]]]:
    """A VIEWER key of the largest merchant and of the agency with the most events, and
    the heads of the tenants each follows."""
    with psycopg.connect(libpq_url(DATABASE_URL), autocommit=True) as conn:
        heads = dict(conn.execute("SELECT tenant_id, value FROM tenant_sequences "
                                  "WHERE name = 'events'").fetchall())
        parents = dict(conn.execute("SELECT id, parent_id FROM tenants").fetchall())
        kinds = dict(conn.execute("SELECT id, kind FROM tenants").fetchall())
        merchant = max(heads, key=heads.__getitem__)
        per_agency: Counter[Any] = Counter()
        for tenant_id, head in heads.items():
            if kinds.get(parents.get(tenant_id)) == "AGENCY":
                per_agency[parents[tenant_id]] += head
        agency = per_agency.most_common(1)[0][0]
        followed = {t: h for t, h in heads.items() if parents[t] == agency}
        return {"merchant": (_key(conn, merchant), {merchant: heads[merchant]}),
                "agency (10 merchants)": (_key(conn, agency), followed)}


def cursors(heads: dict[Any, int]) -> dict[str, str | None]:
    return {"start": None,
            "middle": feed.Cursor({t: h // 2 for t, h in heads.items()}).encode(),
            "tail": feed.Cursor({t: max(h - PAGE, 0) for t, h in heads.items()}).encode()}


async def _page_ms(db: Database, scope: Any, types: list[str] | None, after: str | None
                   ) -> float:
    started = time.perf_counter()
    async with db.unit_of_work(scope, readonly=True) as uow:
        page = await events_page(uow, merchant_ids=None, types=types, after=after, first=PAGE)
    elapsed = (time.perf_counter() - started) * 1000
    assert page.events or types, "an unfiltered page from before the head has events"
    return elapsed


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(repeat: int) -> None:
    settings = Settings(database_url=DATABASE_URL, encryption_key=ENCRYPTION_KEY,
                        _env_file=None)  # type: ignore[call-arg]
    db = Database(settings, pooled=True)
    runtime.configure(settings=settings, db=db)
    print(f"{'caller':<22} {'position':<8} {'filter':<20} {'p50 ms':>8} {'p99 ms':>8}")
    try:
        for who, (key, heads) in callers().items():
            scope = await authenticate(db, key)
            for position, after in cursors(heads).items():
                for name, types in FILTERS.items():
                    await _page_ms(db, scope, types, after)  # warm the plan and the cache
                    times = [await _page_ms(db, scope, types, after) for _ in range(repeat)]
                    print(f"{who:<22} {position:<8} {name:<20} {_p(times, 0.5):8.1f} "
                          f"{_p(times, 0.99):8.1f}")
    finally:
        await db.dispose()


def explain() -> None:
    """The per-tenant page statement (as the repository builds it) for the rare type at
    the start of the largest merchant's stream, as ``qrefund_app`` under RLS."""
    with psycopg.connect(libpq_url(DATABASE_URL)) as conn:
        tenant = conn.execute("SELECT tenant_id FROM tenant_sequences ORDER BY value DESC "
                              "LIMIT 1").fetchone()
        assert tenant is not None
        conn.execute('SET ROLE "qrefund_app"')
        conn.execute("SELECT set_config('qrefund.tenant_ids', %s, true), "
                     "set_config('qrefund.all_tenants', 'off', true)", (str(tenant[0]),))
        plan = conn.execute(
            "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT * FROM domain_events "
            "WHERE tenant_id = %s AND seq > 0 AND (aggregate_type IN ('__none__') "
            "OR type IN ('refund_case.payout_failed')) ORDER BY seq LIMIT 51", (tenant[0],))
        print("\nEXPLAIN of one tenant's page, rare type, from the start:")
        for (line,) in plan.fetchall():
            print("  " + line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--skip-load", action="store_true")
    args = parser.parse_args()
    if not args.skip_load:
        load(args.events)
    asyncio.run(measure(args.repeat))
    explain()


if __name__ == "__main__":
    main()
