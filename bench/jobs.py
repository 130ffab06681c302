"""Job benchmarks: per-job cost of each worker kind, payouts behind a backlog, the sweep.

    .venv/bin/python -m bench.jobs payouts [--count 500]
    .venv/bin/python -m bench.jobs backlog [--backlog 500] [--payouts 50]
    .venv/bin/python -m bench.jobs sweep [--open 1000000] [--due 1000]

PostgreSQL and Redis (the defaults below, or QREFUND_BENCH_JOBS_DATABASE_URL and
QREFUND_BENCH_JOBS_REDIS_URL). The database is dropped and re-created on each
run; the Redis database is flushed.

``payouts``: approved cases and their PENDING payouts are made through the real
services, ``count`` ``execute_payout`` jobs are enqueued, and one worker, started
fresh in its own process (as ``qrefund worker`` is), drains the queue in burst mode
(sandbox channel: call, record, case REFUNDED, transaction updated, outbox events,
relay nudges); the same kind of worker then drains ``count`` empty jobs. Worker
kinds: ``forking`` (a work horse per job, the ``qrefund worker`` default; the job
database is built before the first fork), ``forking-cold`` (the same without that:
each horse builds and initialises its own engine, as before) and ``simple``
(``--simple``: jobs in the worker process, pooled connections). Printed: jobs/s,
ms per job of each, the ratio empty/payout, and the peak RSS of the worker process
(and of its largest child: a work horse, or RQ's scheduler) through the payout run.

``backlog``: ``backlog`` maintenance jobs (deadline sweeps: a query each) are
queued, then ``payouts`` ``execute_payout`` jobs; one ``qrefund worker`` process
(forking, then ``--simple``) serves the queues in the old order (maintenance first)
and in the current one (``relay,payouts,notifications,maintenance``). Printed:
seconds from the worker's start until every payout is done.

``sweep``: ``open`` refund cases under review across 100 merchants (bulk SQL),
each with its deadline timer, of which ``due`` have a deadline passing now (half
breached, half at the warning point). Printed: claiming them all (the sweep's
index-backed part) and processing the batches in one process (warnings,
breaches, escalation, timeline and outbox events); the same with the periodic
job dispatching batch jobs to 1 and to 2 idle ``qrefund worker --simple``
processes (dispatch time, and time until every batch is done); a sweep with
nothing due; the PostgreSQL plan of the claim query, and the payout sweep's
look-up of stranded approvals (plan and time) among the open cases.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from redis import Redis
from rq import Queue
from rq.worker import BaseWorker, Worker
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from qrefund.jobs import runtime
from qrefund.jobs.registry import QUEUE_MAINTENANCE, QUEUE_PAYOUTS, QUEUES, load_handlers
from qrefund.jobs.relay import install_nudge
from qrefund.jobs.worker import WORKER_QUEUES, QrefundSimpleWorker, QrefundWorker
from qrefund.migrations.runner import migrate
from qrefund.platform.config import Settings
from qrefund.platform.db import Database, sync_url

DATABASE_URL = os.environ.get(
    "QREFUND_BENCH_JOBS_DATABASE_URL",
    "postgresql+psycopg://postgres@127.0.0.1:5432/qrefund_bench_jobs",
)
REDIS_URL = os.environ.get("QREFUND_BENCH_JOBS_REDIS_URL", "redis://127.0.0.1:6379/2")
ENCRYPTION_KEY = "bench:" + "J" * 43


def noop() -> None:
    """The empty job."""


def bench_settings() -> Settings:
    return Settings(
        database_url=DATABASE_URL,
        redis_url=REDIS_URL,
        encryption_key=ENCRYPTION_KEY,
        environment="test",
        log_level="WARNING",
        _env_file=None,
    )  # type: ignore[call-arg]


def worker_env() -> dict[str, str]:
    """The environment of a worker process pointed at the bench database and Redis."""
    return {**os.environ, "QREFUND_DATABASE_URL": DATABASE_URL, "QREFUND_REDIS_URL": REDIS_URL,
            "QREFUND_ENCRYPTION_KEY": ENCRYPTION_KEY, "QREFUND_ENVIRONMENT": "test",
            "QREFUND_LOG_LEVEL": "WARNING"}


def load_settings_from_env() -> None:
    runtime.reset()
    runtime.configure(settings=bench_settings())


def fresh_settings() -> Settings:
    parsed = make_url(sync_url(DATABASE_URL))
    admin = create_engine(
        parsed.set(database="postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()
    settings = bench_settings()
    migrate(settings)
    Redis.from_url(REDIS_URL).flushdb()
    runtime.reset()
    runtime.configure(settings=settings)
    return settings


async def merchant(db: Database) -> Any:
    from qrefund.tenants import service as tenants
    from qrefund.tenants.auth import authenticate
    from qrefund.tenants.bootstrap import bootstrap

    _operator, key = await bootstrap(db)
    async with db.unit_of_work(await authenticate(db, key)) as uow:
        agency = await tenants.create_agency(uow, name="Bench agency", slug="bench-agency")
        return await tenants.create_merchant(
            uow,
            name="Bench merchant",
            slug="bench-m",
            agency_id=agency.id,
            timezone="Asia/Shanghai",
            default_currency="CNY",
        )


async def pending_payouts(db: Database, shop: Any, count: int) -> list[tuple[str, str]]:
    """``count`` approved cases with their first payout created, not yet run."""
    from qrefund.platform.clock import utcnow
    from qrefund.platform.payouts import service as payouts
    from qrefund.platform.refunds import intake
    from qrefund.platform.refunds import service as refunds
    from qrefund.platform.transactions import service as transactions
    from qrefund.platform.transactions.models import PaymentChannel, TransactionStatus
    from qrefund.platform.vocabulary import RefundReason, RequestChannel

    scope = runtime.job_scope(shop.id, "bench")
    made: list[tuple[str, str]] = []
    txn: Any = None
    for i in range(count):
        async with db.unit_of_work(scope) as uow:
            if i % 40 == 0:
                txn = await transactions.record(
                    uow,
                    transactions.RecordTransaction(
                        merchant_id=shop.id,
                        merchant_order_no=f"B-{i}-{time.monotonic_ns()}",
                        channel=PaymentChannel.ALIPAY,
                        provider_reference=f"ali-{i}",
                        amount=Decimal("1000.00"),
                        currency="CNY",
                        status=TransactionStatus.SUCCEEDED,
                        paid_at=utcnow(),
                    ),
                )
            case = await intake.submit(
                uow,
                intake.SubmitRefund(
                    tenant_id=shop.id,
                    transaction_id=txn.id,
                    amount=Decimal("1.00"),
                    reason=RefundReason.QUALITY_ISSUE,
                    channel=RequestChannel.API,
                ),
            )
            await refunds.start_review(uow, shop.id, case.id)
            await refunds.approve(uow, shop.id, case.id)
            payout = await payouts.create_for_case(uow, shop.id, case.id)
            assert payout is not None
            made.append((str(shop.id), str(payout.id)))
    return made


WORKER_KINDS = ("forking", "forking-cold", "simple")


class ColdForkingWorker(QrefundWorker):
    """The forking worker without its pre-fork preparation: every horse builds its engine."""

    def work(self, *args: Any, **kwargs: Any) -> bool:
        return Worker.work(self, *args, **kwargs)


def drain_here(kind: str, queue_name: str) -> None:
    """(In a fresh process) drain one queue with one burst worker; print seconds as JSON."""
    classes: dict[str, type[BaseWorker]] = {"forking": QrefundWorker,
                                            "forking-cold": ColdForkingWorker,
                                            "simple": QrefundSimpleWorker}
    load_settings_from_env()
    conn = runtime.redis()
    load_handlers()  # as `qrefund worker` does (the job modules, imported once)
    importlib.import_module("bench.jobs")  # the empty job's module (this one is __main__)
    install_nudge()  # as in a real worker: jobs that commit events wake the relay
    worker = classes[kind]([Queue(queue_name, connection=conn)], connection=conn)
    started = time.perf_counter()
    worker.work(burst=True, logging_level="WARNING")
    # Peak RSS of the worker process, and of its largest child process (a work horse, or
    # RQ's scheduler), both through the drain.
    print(json.dumps({"seconds": time.perf_counter() - started,
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "horse_rss_mb":
                          resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))


def drain(kind: str, conn: Redis, fill: Callable[[Queue], None],
          memory: dict[str, float] | None = None) -> float:
    """Fill the payouts queue, then time a fresh worker process draining it; jobs/s.
    ``memory`` gets the worker's peak RSS (and its largest work horse's), in MB."""
    queue = Queue(QUEUE_PAYOUTS, connection=conn)
    queue.empty()
    fill(queue)
    size = queue.count
    done = subprocess.run([sys.executable, "-m", "bench.jobs", "drain", "--worker", kind,
                           "--queue", QUEUE_PAYOUTS], env=worker_env(), capture_output=True,
                          text=True, check=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    seconds = report["seconds"]
    if memory is not None:
        memory.update(rss_mb=round(report["rss_mb"], 1),
                      horse_rss_mb=round(report["horse_rss_mb"], 1))
    assert queue.count == 0 and not queue.failed_job_registry.count, done.stderr
    return float(size / seconds)


def payout_jobs(jobs: list[tuple[str, str]]) -> Callable[[Queue], None]:
    def fill(queue: Queue) -> None:
        queue.enqueue_many([Queue.prepare_data("qrefund.jobs.payouts.execute_payout", args=job,
                                               result_ttl=600) for job in jobs])
    return fill


def bench_payouts(count: int) -> dict[str, Any]:
    settings = fresh_settings()
    db = runtime.database()
    conn = runtime.redis()
    results: dict[str, Any] = {"count": count}
    shop = asyncio.run(merchant(db))
    for kind in WORKER_KINDS:
        jobs = asyncio.run(pending_payouts(db, shop, count))

        def empties(queue: Queue) -> None:
            queue.enqueue_many(
                [Queue.prepare_data("bench.jobs.noop", result_ttl=600) for _ in range(count)]
            )

        memory: dict[str, float] = {}
        payout_rate = drain(kind, conn, payout_jobs(jobs), memory)
        empty_rate = drain(kind, conn, empties)
        results[kind] = {
            "peak_rss_mb": memory["rss_mb"], "horse_peak_rss_mb": memory["horse_rss_mb"],
            "payouts_per_s": round(payout_rate, 1), "empty_jobs_per_s": round(empty_rate, 1),
            "ms_per_payout": round(1000 / payout_rate, 1),
            "ms_per_empty_job": round(1000 / empty_rate, 1),
            "ratio": round(empty_rate / payout_rate, 2),
        }
    ledger = conn.hlen("qrefund:sandbox:refunds")
    results["sandbox_refunds"] = ledger
    assert ledger == len(WORKER_KINDS) * count, "every payout pays exactly once"
    results["database"] = settings.database_url
    return results


OLD_ORDER = ("maintenance", "payouts", "notifications")  # before the relay had its queue


def _payouts_behind(conn: Redis, order: tuple[str, ...], simple: bool, backlog: int,
                    jobs: list[tuple[str, str]]) -> float:
    """Seconds from a worker's start until all ``jobs`` are done, with ``backlog``
    maintenance jobs queued before them."""
    for name in QUEUES:
        Queue(name, connection=conn).empty()
    maintenance = Queue(QUEUE_MAINTENANCE, connection=conn)
    maintenance.enqueue_many([Queue.prepare_data("qrefund.jobs.deadlines.deadline_sweep",
                                                 result_ttl=600) for _ in range(backlog)])
    payouts = Queue(QUEUE_PAYOUTS, connection=conn)
    payout_jobs(jobs)(payouts)
    ids = set(payouts.job_ids)
    command = [sys.executable, "-m", "qrefund", "worker", "--queues", ",".join(order)]
    proc = subprocess.Popen(command + (["--simple"] if simple else []), env=worker_env())
    started = time.perf_counter()
    try:
        while ids - set(payouts.finished_job_registry.get_job_ids()):
            if proc.poll() is not None:
                raise SystemExit("the worker stopped")
            time.sleep(0.05)
        return time.perf_counter() - started
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)


def bench_backlog(backlog: int, count: int) -> dict[str, Any]:
    fresh_settings()
    db, conn = runtime.database(), runtime.redis()
    shop = asyncio.run(merchant(db))
    results: dict[str, Any] = {"backlog": backlog, "payouts": count}
    for simple in (False, True):
        for label, order in (("maintenance_first", OLD_ORDER), ("payouts_first", WORKER_QUEUES)):
            jobs = asyncio.run(pending_payouts(db, shop, count))
            seconds = _payouts_behind(conn, tuple(order), simple, backlog, jobs)
            results[f"{'simple' if simple else 'forking'}_{label}_s"] = round(seconds, 2)
    return results


SWEEP_SETUP = """
INSERT INTO tenants (id, kind, parent_id, name, slug, timezone, country, default_currency,
                     status, created_at)
SELECT gen_random_uuid(), 'MERCHANT', :agency, 'Bench ' || g, 'bench-m-' || g, 'Asia/Shanghai',
       'CN', 'CNY', 'ACTIVE', now()
FROM generate_series(1, 100) g;

INSERT INTO transactions (tenant_id, id, merchant_order_no, channel, provider_reference,
    amount_minor, currency, status, paid_at, refunded_minor, reserved_minor, refund_count,
    receipt_token_version, created_at)
SELECT m.id, gen_random_uuid(), 'B-' || g, 'ALIPAY', 'ref-' || g, 1000000, 'CNY', 'SUCCEEDED',
       now() - interval '1 day', 0, :per_txn * 100, :per_txn, 1, now()
FROM tenants m CROSS JOIN generate_series(1, :txns_per_merchant) g
WHERE m.parent_id = :agency;

INSERT INTO refund_cases (tenant_id, id, case_number, transaction_id, status, requested_minor,
    currency, reason, channel, method, risk_flags, policy_version, extension_used_minutes,
    review_due_at, completion_due_at, next_due_at, escalation_level, submitted_by, event_count,
    created_at, updated_at)
SELECT t.tenant_id, gen_random_uuid(), 'C' || t.merchant_order_no || '-' || g, t.id,
       'UNDER_REVIEW', 100, 'CNY', 'QUALITY_ISSUE', 'API', 'ORIGINAL_ROUTE', '[]', 0, 0,
       due, due + interval '24 hours', due, 0, 'bench', 1, now() - interval '1 hour', now()
FROM transactions t CROSS JOIN generate_series(1, :per_txn) g
CROSS JOIN LATERAL (SELECT now() + interval '2 hours' + random() * interval '46 hours' AS due) d;

INSERT INTO deadline_timers (tenant_id, subject_type, subject_id, name, kind, started_at, due_at,
    warn_at, escalations, next_check_at, failures, updated_at)
SELECT tenant_id, 'refund_case', id, 'sla', 'review', created_at, review_due_at,
       created_at + (review_due_at - created_at) * 0.75, 0,
       created_at + (review_due_at - created_at) * 0.75, 0, now()
FROM refund_cases;
"""

SWEEP_DUE = """
UPDATE deadline_timers SET next_check_at = now() + interval '30 days'
WHERE next_check_at IS NULL OR next_check_at <= now() + interval '10 minutes';

WITH picked AS (SELECT tenant_id, id, row_number() OVER () AS n FROM refund_cases
                WHERE escalation_level = 0 AND event_count = 1 LIMIT :due),
breach AS (UPDATE refund_cases c SET review_due_at = now() - interval '5 minutes',
                                     next_due_at = now() - interval '5 minutes'
           FROM picked p WHERE (c.tenant_id, c.id) = (p.tenant_id, p.id) AND p.n % 2 = 0
           RETURNING c.tenant_id, c.id, c.review_due_at, c.created_at)
UPDATE deadline_timers d SET due_at = b.review_due_at,
       warn_at = b.created_at + (b.review_due_at - b.created_at) * 0.75,
       next_check_at = b.review_due_at, warned_at = NULL, breached_at = NULL, escalations = 0
FROM breach b WHERE (d.tenant_id, d.subject_id) = (b.tenant_id, b.id);

WITH warn AS (SELECT d.tenant_id, d.subject_id FROM deadline_timers d
              JOIN refund_cases c ON (c.tenant_id, c.id) = (d.tenant_id, d.subject_id)
              WHERE d.next_check_at > now() AND c.event_count = 1
              AND c.review_due_at > now() + interval '1 hour' LIMIT :due / 2)
UPDATE deadline_timers d SET warn_at = now() - interval '1 minute',
       next_check_at = now() - interval '1 minute', warned_at = NULL
FROM warn w WHERE (d.tenant_id, d.subject_id) = (w.tenant_id, w.subject_id);
"""


def sweep_data(settings: Settings, open_cases: int, due: int) -> None:
    agency = asyncio.run(_agency(runtime.database()))
    per_txn = 50
    txns_per_merchant = max(open_cases // (100 * per_txn), 1)
    engine = create_engine(sync_url(settings.database_url), poolclass=NullPool)
    with engine.begin() as conn:
        for statement in SWEEP_SETUP.split(";\n"):
            if statement.strip():
                conn.execute(text(statement), {"agency": agency, "per_txn": per_txn,
                                               "txns_per_merchant": txns_per_merchant})
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    mark_due(settings, due)
    engine.dispose()


def mark_due(settings: Settings, due: int) -> None:
    """Make ``due`` untouched cases due now: half breached, half at the warning point."""
    engine = create_engine(sync_url(settings.database_url), poolclass=NullPool)
    with engine.begin() as conn:
        for statement in SWEEP_DUE.split(";\n"):
            if statement.strip():
                conn.execute(text(statement), {"due": due})
    engine.dispose()


async def _agency(db: Database) -> Any:
    from qrefund.tenants import service as tenants
    from qrefund.tenants.auth import authenticate
    from qrefund.tenants.bootstrap import bootstrap

    _operator, key = await bootstrap(db)
    async with db.unit_of_work(await authenticate(db, key)) as uow:
        return (await tenants.create_agency(uow, name="Bench agency", slug="bench-agency")).id


def _sweep_inline() -> tuple[float, float, int]:
    """Claim every due deadline, then process the batches here, one after the other."""
    from qrefund.jobs.deadlines import claim_batches, process_batch

    started = time.perf_counter()
    batches = asyncio.run(claim_batches())
    claimed = time.perf_counter()
    handled = 0
    for keys, lease in batches:
        handled += asyncio.run(process_batch(keys, lease)).due
    return claimed - started, time.perf_counter() - claimed, handled


def _sweep_with_workers(settings: Settings, workers: int) -> tuple[float, float]:
    """Idle workers are up; the periodic job dispatches; time until every batch is done."""
    from rq.job import Job, JobStatus

    from qrefund.jobs.deadlines import deadline_sweep

    procs = [subprocess.Popen([sys.executable, "-m", "qrefund", "worker", "--simple", "-q",
                               "maintenance"], env=worker_env()) for _ in range(workers)]
    conn = runtime.redis()
    try:
        while len(Worker.all(connection=conn)) < workers:
            time.sleep(0.2)
        started = time.perf_counter()
        dispatched = asyncio.run(deadline_sweep())
        dispatch_s = time.perf_counter() - started
        pending = list(dispatched["jobs"])
        while pending:
            pending = [j for j in pending
                       if Job.fetch(j, connection=conn).get_status() != JobStatus.FINISHED]
            time.sleep(0.005)
        return dispatch_s, time.perf_counter() - started
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=60)


def bench_sweep(open_cases: int, due: int) -> dict[str, Any]:
    from qrefund.jobs.deadlines import deadline_sweep

    settings = fresh_settings()
    started = time.perf_counter()
    sweep_data(settings, open_cases, due)
    generated = time.perf_counter() - started
    engine = create_engine(sync_url(settings.database_url), poolclass=NullPool)
    with engine.connect() as conn:
        counts = conn.execute(text(
            "SELECT (SELECT count(*) FROM refund_cases), (SELECT count(*) FROM deadline_timers"
            " WHERE next_check_at <= now())")).one()
        plan = [r[0] for r in conn.execute(text(
            "EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM deadline_timers"
            " WHERE next_check_at IS NOT NULL AND next_check_at <= now()"
            " ORDER BY next_check_at LIMIT 250 FOR UPDATE SKIP LOCKED"))]
    engine.dispose()
    claim_s, process_s, handled = _sweep_inline()
    results: dict[str, Any] = {
        "open_cases": counts[0], "due_timers": counts[1], "generate_s": round(generated, 1),
        "one_process": {"claim_s": round(claim_s, 3), "process_s": round(process_s, 3),
                        "handled": handled},
    }
    for workers in (1, 2):
        mark_due(settings, due)
        dispatch_s, total_s = _sweep_with_workers(settings, workers)
        results[f"{workers}_workers"] = {"dispatch_s": round(dispatch_s, 3),
                                         "all_done_s": round(total_s, 3)}
    started = time.perf_counter()
    idle = asyncio.run(deadline_sweep())
    results["idle_sweep_s"] = round(time.perf_counter() - started, 4)
    results["idle_sweep_due"] = idle["due"]
    results["due_query_plan"] = plan
    results["stranded"] = _stranded(settings, STRANDED)
    return results


STRANDED = 200
MARK_STRANDED = """UPDATE refund_cases SET status = 'APPROVED', approved_minor = requested_minor,
    approved_at = now() - interval '1 hour' WHERE (tenant_id, id) IN (SELECT tenant_id, id
    FROM refund_cases WHERE status = 'UNDER_REVIEW' LIMIT :n)"""


def _stranded(settings: Settings, count: int) -> dict[str, Any]:
    """The payout sweep's look-up of stranded approvals among the open cases (plan and
    time of one page), then the rescue of ``count`` of them (payout created for each)."""
    from qrefund.jobs.payouts import rescue_stranded
    from qrefund.platform.clock import utcnow
    from qrefund.platform.payouts.repository import stranded_statement

    engine = create_engine(sync_url(settings.database_url), poolclass=NullPool)
    with engine.begin() as conn:
        idle_plan = _explain(conn, stranded_statement(runtime.system_scope("b"), utcnow(), 100))
        conn.execute(text(MARK_STRANDED), {"n": count})
    engine.dispose()
    started = time.perf_counter()
    rescued = asyncio.run(rescue_stranded(utcnow()))
    return {"rescued": rescued, "rescue_s": round(time.perf_counter() - started, 3),
            "page_plan_with_none_stranded": idle_plan}


def _explain(conn: Any, stmt: Any) -> list[str]:
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    return [r[0] for r in conn.exec_driver_sql(f"EXPLAIN ANALYZE {compiled}", compiled.params)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("payouts")
    p.add_argument("--count", type=int, default=500)
    b = sub.add_parser("backlog")
    b.add_argument("--backlog", type=int, default=500)
    b.add_argument("--payouts", type=int, default=50)
    s = sub.add_parser("sweep")
    s.add_argument("--open", type=int, default=1_000_000)
    s.add_argument("--due", type=int, default=1000)
    d = sub.add_parser("drain", help="(internal) one worker process draining one queue")
    d.add_argument("--worker", choices=WORKER_KINDS, required=True)
    d.add_argument("--queue", required=True)
    args = parser.parse_args()
    if args.what == "drain":
        drain_here(args.worker, args.queue)
        return
    if args.what == "payouts":
        result = bench_payouts(args.count)
    elif args.what == "backlog":
        result = bench_backlog(args.backlog, args.payouts)
    else:
        result = bench_sweep(args.open, args.due)
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
