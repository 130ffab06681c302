"""Complaint job benchmark: the deadline sweep and the auto-close among many open tickets.

    .venv/bin/python -m bench.complaint_sweep [--open 100000] [--due 1000]

PostgreSQL and Redis (the defaults below, or QREFUND_BENCH_COMPLAINTS_DATABASE_URL and
QREFUND_BENCH_COMPLAINTS_REDIS_URL). The database is dropped and re-created on each
run; the Redis database is flushed.

``open`` complaint tickets (OPEN, no first response yet: both timers running, so
2 x ``open`` deadline timers) across 100 merchants of one agency, written with bulk
SQL, of which ``due`` have a deadline to act on now: half breached (both deadlines
passed: two escalation steps each, the second at level 2 telling the agency), half
at the first-response warning point. Printed: claiming them all (the index-backed
part) and processing the batches in one process (locks, warnings, breaches,
reassignment, timeline entries and outbox events); the same with the periodic job
dispatching batch jobs to 1 and to 2 idle ``qrefund worker --simple`` processes
(dispatch time, and time until every batch is done); a sweep with nothing due; the
PostgreSQL plan of the claim query. Then ``due`` of the tickets are made RESOLVED with
their auto-close time passed: the auto-close job's run time, its look-up's plan, and
an idle run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

os.environ.setdefault(
    "QREFUND_BENCH_JOBS_DATABASE_URL",
    os.environ.get("QREFUND_BENCH_COMPLAINTS_DATABASE_URL",
                   "postgresql+psycopg://postgres@127.0.0.1:5432/qrefund_bench_complaint_jobs"))
os.environ.setdefault("QREFUND_BENCH_JOBS_REDIS_URL",
                      os.environ.get("QREFUND_BENCH_COMPLAINTS_REDIS_URL",
                                     "redis://127.0.0.1:6379/7"))

from bench.jobs import (  # after the settings above: they choose its database
    _agency,
    _explain,
    _sweep_inline,
    _sweep_with_workers,
    fresh_settings,
)
from qrefund.jobs import runtime
from qrefund.platform.config import Settings
from qrefund.platform.db import sync_url

MERCHANTS = 100
TICKETS_PER_TXN = 10

SETUP = """
INSERT INTO tenants (id, kind, parent_id, name, slug, timezone, country, default_currency,
                     status, created_at)
SELECT gen_random_uuid(), 'MERCHANT', :agency, 'Bench ' || g, 'bench-m-' || g, 'Asia/Shanghai',
       'CN', 'CNY', 'ACTIVE', now()
FROM generate_series(1, :merchants) g;

INSERT INTO transactions (tenant_id, id, merchant_order_no, channel, provider_reference,
    amount_minor, currency, status, paid_at, refunded_minor, reserved_minor, refund_count,
    receipt_token_version, created_at)
SELECT m.id, gen_random_uuid(), 'B-' || g, 'ALIPAY', 'ref-' || g, 10000, 'CNY', 'SUCCEEDED',
       now() - interval '1 day', 0, 0, 0, 1, now()
FROM tenants m CROSS JOIN generate_series(1, :txns_per_merchant) g
WHERE m.parent_id = :agency;

INSERT INTO complaint_tickets (tenant_id, id, ticket_number, transaction_id, status, priority,
    category, channel, description, policy_version, first_response_due_at, resolution_due_at,
    sla_started_at, sla_paused_seconds, next_due_at, escalation_level, opened_by, event_count,
    reopen_count, created_at, updated_at)
SELECT t.tenant_id, gen_random_uuid(), 'CP-' || t.merchant_order_no || '-' || g, t.id, 'OPEN',
       'NORMAL', 'SERVICE', 'API', 'bench complaint', 0, fr, fr + interval '96 hours',
       now() - interval '1 hour', 0, fr, 0, 'bench', 1, 0, now() - interval '1 hour', now()
FROM transactions t CROSS JOIN generate_series(1, :per_txn) g
CROSS JOIN LATERAL (SELECT now() + interval '2 hours' + random() * interval '46 hours' AS fr) d;

INSERT INTO deadline_timers (tenant_id, subject_type, subject_id, name, kind, started_at, due_at,
    warn_at, escalations, next_check_at, failures, updated_at)
SELECT tenant_id, 'complaint_ticket', id, n.name, n.name, created_at,
       CASE n.name WHEN 'first_response' THEN first_response_due_at ELSE resolution_due_at END,
       created_at + (CASE n.name WHEN 'first_response' THEN first_response_due_at
                     ELSE resolution_due_at END - created_at) * 0.75, 0,
       created_at + (CASE n.name WHEN 'first_response' THEN first_response_due_at
                     ELSE resolution_due_at END - created_at) * 0.75, 0, now()
FROM complaint_tickets
CROSS JOIN (VALUES ('first_response'), ('resolution')) AS n(name);
"""

# Park every timer far away, then make ``due`` untouched tickets due now: half breached
# (both deadlines passed), half at the first-response warning point.
DUE = """
UPDATE deadline_timers SET next_check_at = now() + interval '30 days'
WHERE next_check_at IS NULL OR next_check_at <= now() + interval '10 minutes';

WITH picked AS (SELECT tenant_id, id, row_number() OVER () AS n FROM complaint_tickets
                WHERE status = 'OPEN' AND escalation_level = 0 AND event_count = 1 LIMIT :due),
breach AS (UPDATE complaint_tickets c SET first_response_due_at = now() - interval '10 minutes',
                  resolution_due_at = now() - interval '5 minutes',
                  next_due_at = now() - interval '10 minutes'
           FROM picked p WHERE (c.tenant_id, c.id) = (p.tenant_id, p.id) AND p.n % 2 = 0
           RETURNING c.tenant_id, c.id, c.first_response_due_at, c.resolution_due_at,
                     c.created_at)
UPDATE deadline_timers d SET
       due_at = CASE d.name WHEN 'first_response' THEN b.first_response_due_at
                ELSE b.resolution_due_at END,
       warn_at = b.created_at, warned_at = b.created_at, breached_at = NULL, escalations = 0,
       next_check_at = CASE d.name WHEN 'first_response' THEN b.first_response_due_at
                       ELSE b.resolution_due_at END
FROM breach b WHERE (d.tenant_id, d.subject_id) = (b.tenant_id, b.id);

WITH warn AS (SELECT d.tenant_id, d.subject_id FROM deadline_timers d
              JOIN complaint_tickets c ON (c.tenant_id, c.id) = (d.tenant_id, d.subject_id)
              WHERE d.name = 'first_response' AND d.next_check_at > now()
              AND c.event_count = 1 AND c.first_response_due_at > now() + interval '1 hour'
              LIMIT :due / 2)
UPDATE deadline_timers d SET warn_at = now() - interval '1 minute',
       next_check_at = now() - interval '1 minute', warned_at = NULL
FROM warn w WHERE (d.tenant_id, d.subject_id) = (w.tenant_id, w.subject_id)
AND d.name = 'first_response';
"""

RESOLVE_DUE = """
UPDATE complaint_tickets SET status = 'RESOLVED', resolution = 'EXPLAINED',
       resolved_at = now() - interval '8 days', auto_close_at = now() - interval '1 day',
       next_due_at = NULL
WHERE (tenant_id, id) IN (SELECT tenant_id, id FROM complaint_tickets
                          WHERE status = 'OPEN' AND event_count = 1 LIMIT :due)
"""


def _run(settings: Settings, script: str, **params: Any) -> None:
    engine = create_engine(sync_url(settings.database_url), poolclass=NullPool)
    with engine.begin() as conn:
        for statement in script.split(";\n"):
            if statement.strip():
                conn.execute(text(statement), params)
    engine.dispose()


def generate(settings: Settings, open_tickets: int, due: int) -> None:
    agency = asyncio.run(_agency(runtime.database()))
    txns = max(open_tickets // (MERCHANTS * TICKETS_PER_TXN), 1)
    _run(settings, SETUP, agency=agency, merchants=MERCHANTS, txns_per_merchant=txns,
         per_txn=TICKETS_PER_TXN)
    engine = create_engine(sync_url(settings.database_url), poolclass=NullPool)
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    engine.dispose()
    _run(settings, DUE, due=due)


def _counts(settings: Settings) -> dict[str, int]:
    engine = create_engine(sync_url(settings.database_url), poolclass=NullPool)
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT (SELECT count(*) FROM complaint_tickets WHERE status = 'OPEN'),"
            " (SELECT count(*) FROM deadline_timers),"
            " (SELECT count(*) FROM deadline_timers WHERE next_check_at <= now()),"
            " (SELECT count(DISTINCT subject_id) FROM deadline_timers"
            "  WHERE next_check_at <= now())")).one()
        plan = [r[0] for r in conn.execute(text(
            "EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM deadline_timers"
            " WHERE next_check_at IS NOT NULL AND next_check_at <= now()"
            " ORDER BY next_check_at LIMIT 250 FOR UPDATE SKIP LOCKED"))]
    engine.dispose()
    return {"open_tickets": row[0], "timers": row[1], "due_timers": row[2],
            "due_tickets": row[3], "plan": plan}  # type: ignore[dict-item]


def _auto_close(settings: Settings, due: int) -> dict[str, Any]:
    """``due`` tickets RESOLVED long ago: the auto-close job's run, its plan, an idle run."""
    from qrefund.jobs.complaints import BATCH_SIZE, complaint_auto_close
    from qrefund.platform.clock import utcnow

    _run(settings, RESOLVE_DUE, due=due)
    engine = create_engine(sync_url(settings.database_url), poolclass=NullPool)
    with engine.begin() as conn:
        plan = _explain(conn, _due_statement(utcnow(), BATCH_SIZE))
    engine.dispose()
    started = time.perf_counter()
    result = asyncio.run(complaint_auto_close())
    run_s = time.perf_counter() - started
    started = time.perf_counter()
    idle = asyncio.run(complaint_auto_close())
    return {"closed": result["closed"], "batches": result["batches"], "run_s": round(run_s, 3),
            "idle_run_s": round(time.perf_counter() - started, 4), "idle_due": idle["due"],
            "look_up_plan": plan}


def _due_statement(now: Any, limit: int) -> Any:
    """The auto-close look-up as the repository builds it for the job's system scope
    (``ComplaintTicketRepository.due_to_auto_close``; without its row lock: EXPLAIN only)."""
    from sqlalchemy import select
    from sqlmodel import col

    from qrefund.platform.complaints.models import ComplaintTicket

    due = col(ComplaintTicket.auto_close_at)
    return (select(col(ComplaintTicket.tenant_id), col(ComplaintTicket.id))
            .where(due.is_not(None), due <= now).order_by(due).limit(limit))


def bench(open_tickets: int, due: int) -> dict[str, Any]:
    from qrefund.jobs.deadlines import deadline_sweep

    settings = fresh_settings()
    started = time.perf_counter()
    generate(settings, open_tickets, due)
    results: dict[str, Any] = {"generate_s": round(time.perf_counter() - started, 1)}
    counts = _counts(settings)
    plan = counts.pop("plan")
    results.update(counts)
    claim_s, process_s, handled = _sweep_inline()
    results["one_process"] = {"claim_s": round(claim_s, 3), "process_s": round(process_s, 3),
                              "timers_handled": handled}
    for workers in (1, 2):
        _run(settings, DUE, due=due)
        dispatch_s, total_s = _sweep_with_workers(settings, workers)
        results[f"{workers}_workers"] = {"dispatch_s": round(dispatch_s, 3),
                                         "all_done_s": round(total_s, 3)}
    started = time.perf_counter()
    idle = asyncio.run(deadline_sweep())
    results["idle_sweep_s"] = round(time.perf_counter() - started, 4)
    results["idle_sweep_due"] = idle["due"]
    results["claim_query_plan"] = plan
    results["auto_close"] = _auto_close(settings, due)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--open", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=1000)
    args = parser.parse_args()
    print(json.dumps(bench(args.open, args.due), indent=2, default=str))


if __name__ == "__main__":
    main()
