"""Transient failures: jobs are retried with backoff, and sweeps can always try again."""

from __future__ import annotations

import asyncio
import threading

from rq import Queue
from rq.job import Job, JobStatus

from qrefund.jobs import runtime
from qrefund.jobs.enqueue import enqueue_unless_live
from qrefund.jobs.payouts import create_payout, execute_payout, payout_sweep
from qrefund.jobs.registry import QUEUE_MAINTENANCE, QUEUE_PAYOUTS, QUEUE_RELAY, QUEUES, JobSpec
from qrefund.jobs.relay import enqueue_spec, relay_pending
from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from qrefund.platform.payouts.models import PayoutStatus
from qrefund.platform.vocabulary import RefundCaseStatus
from tests.jobs.support import JobHarness, approved_case, cli, fresh_case, payouts_of
from tests.support.world import World

SWEEP = "qrefund.jobs.deadlines.deadline_sweep"


def dead_database_url(settings: Settings) -> str:
    """A database nobody can reach: nothing listens on port 1; no such directory."""
    if settings.is_sqlite:
        return "sqlite+aiosqlite:////nonexistent-qrefund-dir/qrefund.db"
    return "postgresql+psycopg://postgres@127.0.0.1:1/qrefund"


async def test_a_job_spec_may_refuse_retries(jobs: JobHarness) -> None:
    spec = JobSpec(QUEUE_MAINTENANCE, SWEEP, retry_intervals=())
    assert enqueue_spec(jobs.redis, spec, "no-retry", {})
    job = Job.fetch("no-retry", connection=jobs.redis)
    assert not job.retries_left


async def test_every_job_the_relay_enqueues_is_retried_on_failure(
    jobs: JobHarness, world: World
) -> None:
    await approved_case(jobs.db, world, "18.00")
    jobs.clear_queues()
    assert await relay_pending() > 0
    enqueued = [j for q in QUEUES for j in jobs.queued(q)]
    assert {j.func_name for j in enqueued} >= {"qrefund.jobs.payouts.create_payout",
                                               "qrefund.jobs.deadlines.sync_deadline"}
    for job in enqueued:
        assert job.retries_left and job.retry_intervals, f"{job.func_name} is never retried"
    [create] = [j for j in enqueued if j.func_name.endswith("create_payout")]
    assert create.retry_intervals == list(jobs.settings.job_retry_seconds)


async def test_create_payout_meeting_a_dead_database_is_retried_and_pays(
    jobs: JobHarness, world: World
) -> None:
    # Given an approval whose create_payout job is queued, retried after 1 s on failure
    runtime.configure(settings=jobs.settings.model_copy(update={"job_retry_seconds": (1, 1)}))
    case = await approved_case(jobs.db, world, "19.00")
    await jobs.drain((QUEUE_RELAY,))
    [create] = jobs.queued(QUEUE_PAYOUTS)
    assert create.func_name == "qrefund.jobs.payouts.create_payout"

    # When a worker whose database is unreachable takes it (a real forking worker)
    down = await asyncio.to_thread(cli, jobs.settings, "worker", "--burst", "--queues",
                                   QUEUE_PAYOUTS, QREFUND_DATABASE_URL=dead_database_url(
                                       jobs.settings))
    assert down.returncode == 0, down.stderr

    # Then the job failed, nothing changed, and RQ holds it for a retry
    job = Job.fetch(create.id, connection=jobs.redis)
    assert job.get_status() == JobStatus.SCHEDULED and job.retries_left == 1, down.stderr
    assert jobs.failed(QUEUE_PAYOUTS) == []
    assert (await fresh_case(jobs.db, case)).status == RefundCaseStatus.APPROVED
    assert await payouts_of(jobs.db, case) == []

    # When the database is back and a worker runs once the retry is due
    await asyncio.sleep(1.2)
    for _ in range(3):
        up = await asyncio.to_thread(cli, jobs.settings, "worker", "--burst")
        assert up.returncode == 0, up.stderr
        if (await fresh_case(jobs.db, case)).status == RefundCaseStatus.REFUNDED:
            break

    # Then the retry created the payout and the case was paid, once
    assert (await fresh_case(jobs.db, case)).status == RefundCaseStatus.REFUNDED
    [payout] = await payouts_of(jobs.db, case)
    assert payout.status == PayoutStatus.SUCCEEDED and len(jobs.sandbox().ledger()) == 1


async def test_a_poll_that_failed_for_good_is_enqueued_again_by_the_sweep(
    jobs: JobHarness, world: World
) -> None:
    # Given a PROCESSING payout whose status query job failed on every retry
    case = await approved_case(jobs.db, world, "10.13")  # the sandbox answers PROCESSING
    payout_id = await create_payout(str(case.tenant_id), str(case.id))
    assert payout_id is not None
    jobs.clear_queues()
    assert await execute_payout(str(case.tenant_id), payout_id) == PayoutStatus.PROCESSING
    [poll] = jobs.queued(QUEUE_PAYOUTS)
    dead = Database(jobs.settings.model_copy(
        update={"database_url": dead_database_url(jobs.settings)}), pooled=False)
    runtime.configure(db=dead)
    try:
        await jobs.drain((QUEUE_PAYOUTS,))
    finally:
        runtime.configure(db=jobs.db)
        await dead.dispose()
    assert jobs.failed(QUEUE_PAYOUTS) == [poll.id]

    # When the payout sweep runs (the poll's job id is the failed job's)
    assert await payout_sweep() == 1
    assert jobs.failed(QUEUE_PAYOUTS) == []
    await jobs.drain()

    # Then the payout is polled to its end
    [payout] = await payouts_of(jobs.db, case)
    assert payout.status == PayoutStatus.SUCCEEDED
    assert (await fresh_case(jobs.db, case)).status == RefundCaseStatus.REFUNDED


async def test_a_live_job_is_never_doubled(jobs: JobHarness) -> None:
    queue = Queue(QUEUE_MAINTENANCE, connection=jobs.redis)
    assert enqueue_unless_live(queue, SWEEP, job_id="sweep-once")
    assert not enqueue_unless_live(queue, SWEEP, job_id="sweep-once")  # queued
    later = Queue(QUEUE_PAYOUTS, connection=jobs.redis)
    at = Job.fetch("sweep-once", connection=jobs.redis).created_at.replace(year=2100)
    assert enqueue_unless_live(later, SWEEP, job_id="sweep-later", at=at)
    assert not enqueue_unless_live(later, SWEEP, job_id="sweep-later")  # scheduled
    assert [j.id for j in jobs.queued(QUEUE_MAINTENANCE)] == ["sweep-once"]
    assert jobs.queued(QUEUE_PAYOUTS) == []


async def test_racing_callers_replace_a_failed_job_once(jobs: JobHarness) -> None:
    # Given a job that failed for good
    queue = Queue(QUEUE_MAINTENANCE, connection=jobs.redis)
    queue.enqueue("qrefund.jobs.no_such_module.job", job_id="doomed", result_ttl=600)
    await jobs.drain((QUEUE_MAINTENANCE,))
    assert jobs.failed(QUEUE_MAINTENANCE) == ["doomed"]

    # When four callers try to enqueue it again at the same moment
    barrier = threading.Barrier(4, timeout=30)

    def attempt() -> bool:
        barrier.wait()
        return enqueue_unless_live(queue, SWEEP, job_id="doomed")

    results = await asyncio.gather(*(asyncio.to_thread(attempt) for _ in range(4)))

    # Then exactly one replaced it: one live job, queued once
    assert sum(results) == 1
    assert [j.id for j in jobs.queued(QUEUE_MAINTENANCE)] == ["doomed"]
    assert jobs.failed(QUEUE_MAINTENANCE) == []
    assert Job.fetch("doomed", connection=jobs.redis).func_name == SWEEP
