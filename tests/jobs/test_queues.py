"""Queue priority (payouts never wait behind maintenance work), dedicated and forking workers."""

from __future__ import annotations

import asyncio

from rq import Queue
from rq.job import Job

from qrefund.jobs.registry import QUEUE_MAINTENANCE, QUEUE_PAYOUTS, QUEUE_RELAY
from qrefund.jobs.relay import relay_pending
from qrefund.platform.vocabulary import RefundCaseStatus
from tests.jobs.support import JobHarness, approved_case, cli, fresh_case
from tests.support.world import World

BACKLOG = 20
SWEEP = "qrefund.jobs.deadlines.deadline_sweep"  # a real maintenance job (finds nothing due)


def _maintenance_backlog(jobs: JobHarness) -> list[str]:
    queue = Queue(QUEUE_MAINTENANCE, connection=jobs.redis)
    return [queue.enqueue(SWEEP, result_ttl=600).id for _ in range(BACKLOG)]


def _fetch(jobs: JobHarness, ids: list[str]) -> list[Job]:
    return Job.fetch_many(ids, connection=jobs.redis)  # type: ignore[return-value]


async def test_unknown_queues_are_refused(jobs: JobHarness) -> None:
    for value in ("payouts,nope", "relay,,maintenance ,bogus"):
        done = await asyncio.to_thread(cli, jobs.settings, "worker", "--burst", "--queues", value)
        assert done.returncode == 2 and "unknown queue" in done.stderr, done.stderr


async def test_a_payout_is_taken_before_queued_maintenance_work(
    jobs: JobHarness, world: World
) -> None:
    # Given a backlog of maintenance jobs queued before an approval's payout job
    case = await approved_case(jobs.db, world, "16.00")
    jobs.clear_queues()
    backlog = _maintenance_backlog(jobs)
    await relay_pending()
    [create] = [j.id for j in jobs.queued(QUEUE_PAYOUTS)]

    # When one worker with the default queues (`qrefund worker`, forking) drains it all
    done = await asyncio.to_thread(cli, jobs.settings, "worker", "--burst")
    assert done.returncode == 0, done.stderr

    # Then the payout (and the relay run between its two jobs) went first
    assert (await fresh_case(jobs.db, case)).status == RefundCaseStatus.REFUNDED
    [created] = _fetch(jobs, [create])
    maintenance = _fetch(jobs, backlog)
    assert all(j.is_finished for j in maintenance)
    first_maintenance = min(j.started_at for j in maintenance if j.started_at)
    assert created.ended_at and created.ended_at <= first_maintenance
    payout_jobs = [Job.fetch(i, connection=jobs.redis) for i in
                   Queue(QUEUE_PAYOUTS, connection=jobs.redis).finished_job_registry.get_job_ids()]
    assert {j.func_name for j in payout_jobs} >= {"qrefund.jobs.payouts.create_payout",
                                                  "qrefund.jobs.payouts.execute_payout"}
    assert all(j.ended_at and j.ended_at <= first_maintenance for j in payout_jobs)


async def test_a_dedicated_payout_worker_leaves_maintenance_alone(
    jobs: JobHarness, world: World
) -> None:
    # Given queued maintenance work and an approval waiting to be paid out
    case = await approved_case(jobs.db, world, "17.00")
    jobs.clear_queues()
    backlog = _maintenance_backlog(jobs)
    await relay_pending()

    # When a worker dedicated to the relay and payouts runs
    done = await asyncio.to_thread(cli, jobs.settings, "worker", "--burst",
                                   "--queues", f"{QUEUE_RELAY},{QUEUE_PAYOUTS}")
    assert done.returncode == 0, done.stderr

    # Then the case is paid and the maintenance backlog is untouched (the relay added
    # the cases' deadline-timer updates behind it)
    assert (await fresh_case(jobs.db, case)).status == RefundCaseStatus.REFUNDED
    assert [j.id for j in jobs.queued(QUEUE_MAINTENANCE)][:BACKLOG] == backlog


async def test_forked_work_horses_inherit_a_ready_database(jobs: JobHarness) -> None:
    # Given two jobs that report whether their horse found the job database ready
    queue = Queue(QUEUE_MAINTENANCE, connection=jobs.redis)
    ids = [queue.enqueue("tests.jobs.support.database_was_ready", result_ttl=600).id
           for _ in range(2)]

    # When a forking worker runs them
    done = await asyncio.to_thread(cli, jobs.settings, "worker", "--burst", "--queues",
                                   QUEUE_MAINTENANCE)
    assert done.returncode == 0, done.stderr

    # Then each horse inherited the engine the worker built and connected before forking
    assert [j.return_value() for j in _fetch(jobs, ids)] == [True, True]
