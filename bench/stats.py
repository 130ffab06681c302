"""refundStats latency: one merchant-year and an agency of 1,000 merchant-years, from the
cases and from the rollup (days and months), with EXPLAIN ANALYZE of the statements.

    .venv/bin/python -m bench.stats [--merchants 1000] [--per-day 2] [--skip-load]

Re-creates (``--skip-load``: reuses and migrates) the database named by
QREFUND_BENCH_STATS_DATABASE_URL (default ``qrefund_bench_stats``), migrates it and
loads by COPY an agency with N merchants (nine in ten in Asia/Shanghai, one in ten in
Europe/Berlin) and, for each merchant,
``per-day`` refund cases (and their payments) on every day of 2025, in a mix of
outcomes; then runs the rollup job's code once (a full backfill: timed) and measures
refundStats through the service (the agency's own key, so the scope and row-level
security are the production ones), median of ``--repeat`` runs each:

* counts/amounts/SLA (no durations): direct vs rollup, for one merchant and the agency;
* with medians and p90 (always read from the cases);
* grouped by MONTH.

Prints the figures, the rollup/direct ratios and EXPLAIN (ANALYZE, BUFFERS) of the
direct and rollup statements for the agency.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import statistics
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import event

from bench.common import ENCRYPTION_KEY, libpq_url, recreate_database
from qrefund.jobs import runtime
from qrefund.migrations.runner import migrate
from qrefund.platform.analytics import rollup, service
from qrefund.platform.analytics.figures import Dimension
from qrefund.platform.analytics.request import stats_query
from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from qrefund.platform.ids import new_id
from qrefund.tenants.auth import authenticate
from qrefund.tenants.service import KEY_PREFIX, format_key, hash_secret

DATABASE_URL = os.environ.get(
    "QREFUND_BENCH_STATS_DATABASE_URL",
    "postgresql+psycopg://postgres@127.0.0.1:5432/qrefund_bench_stats")
YEAR = datetime(2025, 1, 1, tzinfo=UTC)
REASONS = ["QUALITY_ISSUE", "DUPLICATE_CHARGE", "NOT_AS_DESCRIBED", "MUTUAL_AGREEMENT", "OTHER"]
CASE_COLUMNS = (
    "tenant_id", "id", "case_number", "transaction_id", "status", "requested_minor",
    "approved_minor", "currency", "reason", "channel", "method", "risk_flags",
    "policy_version", "extension_used_minutes", "review_due_at", "completion_due_at",
    "escalation_level", "submitted_by", "event_count", "created_at", "updated_at",
    "review_started_at", "approved_at", "rejected_at", "cancelled_at", "refunded_at")
TXN_COLUMNS = ("tenant_id", "id", "merchant_order_no", "channel", "provider_reference",
               "store_id", "terminal_id", "amount_minor", "currency", "status", "paid_at",
               "refunded_minor", "reserved_minor", "refund_count", "receipt_token_version",
               "created_at")


def _case(merchant: Any, n: int, created: datetime, rng: random.Random
          ) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    # Ids derived from n: the payments' pass and the cases' pass agree on them.
    txn_id, case_id = uuid.UUID(int=(1 << 64) | n), uuid.UUID(int=(2 << 64) | n)
    h = timedelta(hours=1)
    amount = rng.randrange(500, 50000)
    txn = (merchant, txn_id, f"O{n}", rng.choice(["WECHAT_PAY", "ALIPAY", "UNIONPAY_QR"]),
           f"p{n}", f"S{n % 3}", f"T{n % 7}", amount, "CNY", "SUCCEEDED", created - h,
           0, 0, 1, 1, created - h)
    outcome = rng.choices(["refunded", "rejected", "cancelled", "open"], [70, 15, 10, 5])[0]
    review, decided = created + h * rng.uniform(0.1, 8), created + h * rng.uniform(1, 60)
    approved = amount if rng.random() < 0.9 else amount // 2
    row = dict(
        status={"refunded": "REFUNDED", "rejected": "REJECTED", "cancelled": "CANCELLED",
                "open": "UNDER_REVIEW"}[outcome],
        approved_minor=approved if outcome == "refunded" else None,
        review_started_at=review if outcome != "cancelled" else None,
        approved_at=decided if outcome == "refunded" else None,
        rejected_at=decided if outcome == "rejected" else None,
        cancelled_at=created + h if outcome == "cancelled" else None,
        refunded_at=decided + h * rng.uniform(0.5, 30) if outcome == "refunded" else None)
    case = (merchant, case_id, f"R{n}", txn_id, row["status"], amount, row["approved_minor"],
            "CNY", rng.choice(REASONS), rng.choice(["API", "POS_QR", "APP"]), "ORIGINAL_ROUTE",
            "[]", 0, 60 if rng.random() < 0.05 else 0, created + 48 * h, created + 72 * h,
            rng.choices([0, 1, 2], [90, 8, 2])[0], "bench", 3, created,
            created + 80 * h, row["review_started_at"], row["approved_at"],
            row["rejected_at"], row["cancelled_at"], row["refunded_at"])
    return txn, case


def _rows(merchants: list[Any], per_day: int, seed: int
          ) -> Iterator[tuple[tuple[Any, ...], tuple[Any, ...]]]:
    rng, n = random.Random(seed), 0
    for merchant in merchants:
        for day in range(365):
            for _ in range(per_day):
                n += 1
                yield _case(merchant, n, YEAR + timedelta(days=day, seconds=rng.randrange(86400)),
                            rng)


def load(merchant_count: int, per_day: int) -> str:
    """Fills the database; returns the agency's ADMIN key."""
    recreate_database(DATABASE_URL)
    migrate(Settings(database_url=DATABASE_URL, encryption_key=ENCRYPTION_KEY,
                     _env_file=None))  # type: ignore[call-arg]
    now, operator, agency = datetime.now(UTC), new_id(), new_id()
    merchants = [new_id() for _ in range(merchant_count)]
    tenants = [(operator, "OPERATOR", None, "op", "op", "Asia/Shanghai"),
               (agency, "AGENCY", operator, "agency", "agency", "Asia/Shanghai")]
    tenants += [(m, "MERCHANT", agency, f"m{i}", f"m{i}",
                 "Europe/Berlin" if i % 10 == 9 else "Asia/Shanghai")
                for i, m in enumerate(merchants)]
    started = time.perf_counter()
    with psycopg.connect(libpq_url(DATABASE_URL)) as conn, conn.cursor() as cur:
        with cur.copy("COPY tenants (id, kind, parent_id, name, slug, timezone, country, "
                      "default_currency, status, created_at) FROM STDIN") as copy:
            for row in tenants:
                copy.write_row((*row, "CN", "CNY", "ACTIVE", now))
        # Two passes over the same seeded rows (one COPY at a time per connection).
        count = 0
        with cur.copy(f"COPY transactions ({', '.join(TXN_COLUMNS)}) FROM STDIN") as txns:
            for txn, _case_row in _rows(merchants, per_day, 7):
                txns.write_row(txn)
                count += 1
        with cur.copy(f"COPY refund_cases ({', '.join(CASE_COLUMNS)}) FROM STDIN") as cases:
            for _txn, case in _rows(merchants, per_day, 7):
                cases.write_row(case)
        key_id, tag, secret = new_id(), secrets.token_hex(4), secrets.token_urlsafe(32)
        cur.execute("INSERT INTO api_keys (tenant_id, id, name, role, prefix, secret_hash, "
                    "created_at) VALUES (%s, %s, 'bench', 'VIEWER', %s, %s, %s)",
                    (agency, key_id, f"{KEY_PREFIX}{tag}", hash_secret(secret), now))
        conn.commit()
    with psycopg.connect(libpq_url(DATABASE_URL), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    print(f"loaded {count:,} cases and payments of {merchant_count:,} merchants by COPY "
          f"in {time.perf_counter() - started:.1f} s")
    return format_key(tag, agency, key_id, secret)


async def _time(db: Database, scope: Any, repeat: int, **kw: Any) -> tuple[float, str, int]:
    """Median milliseconds of ``repeat`` refundStats calls (after one warm-up)."""
    query = stats_query(start=YEAR, end=YEAR + timedelta(days=365), **kw)
    times, result = [], None
    for _ in range(repeat + 1):
        started = time.perf_counter()
        async with db.unit_of_work(scope, readonly=True) as uow:
            result = await service.refund_stats(uow, query)
        times.append((time.perf_counter() - started) * 1000)
    assert result is not None
    return statistics.median(times[1:]), result.source, result.total.counts["requested"]


async def _explain(db: Database, scope: Any, **kw: Any) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of each statement one refundStats call runs, under the
    caller's row-level security settings."""
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if any(t in statement for t in ("refund_cases", "refund_stats_days",
                                        "refund_stats_months")):
            captured.append((statement, params))

    event.listen(db.read_engine.sync_engine, "before_cursor_execute", capture)
    try:
        query = stats_query(start=YEAR, end=YEAR + timedelta(days=365), **kw)
        async with db.unit_of_work(scope, readonly=True) as uow:
            await service.refund_stats(uow, query)
    finally:
        event.remove(db.read_engine.sync_engine, "before_cursor_execute", capture)
    for statement, params in captured:
        async with db.unit_of_work(scope, readonly=True) as uow:
            conn = await uow._session.connection()
            if "refund_stats_" in statement:  # as the repository runs it
                await conn.exec_driver_sql("SET LOCAL enable_sort = off")
            plan = await conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
            print("\n".join(r[0] for r in plan))
            print()


async def measure(key: str, repeat: int, backfill: bool = True) -> None:
    settings = Settings(database_url=DATABASE_URL, encryption_key=ENCRYPTION_KEY,
                        _env_file=None)  # type: ignore[call-arg]
    db = Database(settings)
    try:
        if backfill:
            started = time.perf_counter()
            async with db.unit_of_work(runtime.system_scope("bench")) as uow:
                run = await rollup.refresh(uow, full=True)
            print(f"rollup backfill: {run.days:,} merchant-days of {run.merchants:,} "
                  f"merchants in {time.perf_counter() - started:.1f} s")
        scope = await authenticate(db, key)
        one = sorted(t for t in scope.tenant_ids or () if t != scope.actor_tenant_id)[:1]
        print(f"\n{'what':48} {'direct ms':>10} {'rollup ms':>10} {'ratio':>7}  cases")
        cases: tuple[tuple[str, dict[str, Any]], ...] = (
            ("one merchant-year", {"merchant_ids": one}),
            ("agency, 1 year, all merchants", {"merchant_ids": None}),
            ("agency, 1 year, by MONTH", {"merchant_ids": None,
                                          "group_by": [Dimension.MONTH]}),
            ("agency, 1 year, with median/p90", {"merchant_ids": None, "durations": True}),
        )
        for label, kw in cases:
            kw.setdefault("durations", False)
            direct, _s, n = await _time(db, scope, repeat, use_rollup=False, **kw)
            rolled, source, _n = await _time(db, scope, repeat, **kw)
            print(f"{label:48} {direct:10.1f} {rolled:10.1f} {direct / rolled:6.1f}x  {n:,}"
                  f" ({source})")
        print("\nEXPLAIN ANALYZE, agency year, direct:")
        await _explain(db, scope, merchant_ids=None, durations=False, use_rollup=False)
        print("EXPLAIN ANALYZE, agency year, rollup:")
        await _explain(db, scope, merchant_ids=None, durations=False)
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--merchants", type=int, default=1000)
    parser.add_argument("--per-day", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-backfill", action="store_true",
                        help="with --skip-load: keep the rollup as it is")
    parser.add_argument("--skip-load", metavar="KEY", help="reuse the database; the key "
                        "printed by the last load")
    args = parser.parse_args()
    if args.skip_load:  # the schema may have moved on since the load (e.g. the months)
        migrate(Settings(database_url=DATABASE_URL, encryption_key=ENCRYPTION_KEY,
                         _env_file=None))  # type: ignore[call-arg]
    key = args.skip_load or load(args.merchants, args.per_day)
    print(f"agency key: {key}")
    asyncio.run(measure(key, args.repeat, backfill=not args.no_backfill))


if __name__ == "__main__":
    main()
