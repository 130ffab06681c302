"""Money moves exactly once: duplicated jobs, concurrent jobs, a crash mid-payout."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from typing import Any

from sqlalchemy import update
from sqlmodel import col

from qrefund.jobs import runtime
from qrefund.jobs.payouts import create_payout, execute_payout
from qrefund.jobs.registry import QUEUE_PAYOUTS, QUEUE_RELAY
from qrefund.platform.config import Settings
from qrefund.platform.payouts import channels
from qrefund.platform.payouts.channels import ChannelResult, RefundRequest
from qrefund.platform.payouts.models import Payout, PayoutStatus
from qrefund.platform.payouts.sandbox import SandboxChannel
from qrefund.platform.refunds.models import RefundCase
from qrefund.platform.vocabulary import RefundCaseStatus
from tests.jobs.support import (
    JobHarness,
    approved_case,
    cli,
    event_count,
    fresh_case,
    fresh_txn,
    payouts_of,
    subprocess_env,
)
from tests.support.raw import unchecked
from tests.support.world import World


class MeetingChannel(SandboxChannel):
    """The sandbox, but each call waits until both racing jobs have reached the channel."""

    def __init__(self, barrier: threading.Barrier, **kw: Any) -> None:
        super().__init__(**kw)
        self.barrier = barrier

    async def refund(self, request: RefundRequest) -> ChannelResult:
        await asyncio.to_thread(self.barrier.wait)
        return await super().refund(request)


async def _pending_payout(jobs: JobHarness, world: World, amount: str, adapter: str
                         ) -> tuple[RefundCase, Payout]:
    case = await approved_case(jobs.db, world, amount)
    payout_id = await create_payout(str(case.tenant_id), str(case.id))
    assert payout_id is not None
    async with jobs.db.unit_of_work(runtime.system_scope("test")) as uow:
        await unchecked(uow).execute(update(Payout).where(col(Payout.case_id) == case.id)
                                  .values(adapter=adapter))
    jobs.clear_queues()  # only the jobs this test runs by hand
    [payout] = await payouts_of(jobs.db, case)
    return case, payout


async def test_the_same_payout_job_twice_at_once_pays_once(jobs: JobHarness, world: World) -> None:
    barrier = threading.Barrier(2, timeout=30)
    channels.register_adapter("meeting", lambda: MeetingChannel(barrier, redis=runtime.redis))
    case, payout = await _pending_payout(jobs, world, "25.00", "meeting")
    args = (str(payout.tenant_id), str(payout.id))

    # Two workers run the same job at the same moment (each in its own thread and loop).
    results = await asyncio.gather(*(asyncio.to_thread(asyncio.run, execute_payout(*args))
                                     for _ in range(2)))

    assert sorted(results) == ["SUCCEEDED", "SUCCEEDED"]
    sandbox = jobs.sandbox()
    assert sandbox.calls(payout.out_refund_no) == 2  # both reached the channel...
    assert len(sandbox.ledger()) == 1  # ...which paid once
    [settled] = await payouts_of(jobs.db, case)
    assert settled.status == PayoutStatus.SUCCEEDED and settled.channel_calls == 2
    txn = await fresh_txn(jobs.db, case)
    assert (txn.refunded_minor, txn.reserved_minor) == (2500, 0)
    assert await event_count(jobs.db, "refund_case.refunded", payout.case_id) == 1
    assert await event_count(jobs.db, "payout.succeeded", payout.id) == 1


async def test_a_job_run_again_after_the_payout_settled_does_nothing(
    jobs: JobHarness, world: World
) -> None:
    _case, payout = await _pending_payout(jobs, world, "26.00", "sandbox")
    args = (str(payout.tenant_id), str(payout.id))
    assert await execute_payout(*args) == "SUCCEEDED"
    assert await execute_payout(*args) == "skipped"
    assert jobs.sandbox().calls(payout.out_refund_no) == 1
    assert await create_payout(str(payout.tenant_id), str(payout.case_id)) is None


def _run_crash_worker(settings: Settings) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tests.jobs.crash_worker"],
                          env=subprocess_env(settings, QREFUND_LOG_LEVEL="WARNING"),
                          capture_output=True, text=True, timeout=300, check=False)


async def test_a_crash_between_the_channel_call_and_the_database_write_pays_once(
    jobs: JobHarness, world: World
) -> None:
    case = await approved_case(jobs.db, world, "31.00")
    await create_payout(str(case.tenant_id), str(case.id))
    await jobs.drain((QUEUE_RELAY,))  # the relay enqueues the payout job
    [payout] = await payouts_of(jobs.db, case)

    # A real worker process forks a work horse per job; the horse dies right after the
    # channel accepted the refund. RQ retries (3 times here), each dies the same way.
    crashed = await asyncio.to_thread(_run_crash_worker, jobs.settings)
    assert "terminated unexpectedly" in crashed.stderr or crashed.returncode == 0, crashed.stderr

    [after_crash] = await payouts_of(jobs.db, case)
    assert after_crash.status == PayoutStatus.PENDING  # the database never heard back
    assert (await fresh_case(jobs.db, case)).status == RefundCaseStatus.PROCESSING
    sandbox = jobs.sandbox()
    assert sandbox.calls(payout.out_refund_no) == 4 and len(sandbox.ledger()) == 1

    # The operator sees the failed job, with its tenant and case, and requeues it.
    listed = await asyncio.to_thread(cli, jobs.settings, "jobs", "failed")
    assert listed.returncode == 0, listed.stderr
    [line] = [ln for ln in listed.stdout.splitlines() if "execute_payout" in ln]
    assert f"tenant={case.tenant_id}" in line and f"case={case.id}" in line
    requeued = await asyncio.to_thread(cli, jobs.settings, "jobs", "requeue", "--all")
    assert requeued.returncode == 0 and line.split()[0] in requeued.stdout
    assert jobs.failed(QUEUE_PAYOUTS) == []

    await jobs.drain()  # a healthy worker: same out_refund_no, the channel's existing refund
    [settled] = await payouts_of(jobs.db, case)
    assert settled.status == PayoutStatus.SUCCEEDED
    assert sandbox.calls(payout.out_refund_no) == 5 and len(sandbox.ledger()) == 1
    txn = await fresh_txn(jobs.db, case)
    assert (txn.refunded_minor, txn.reserved_minor) == (3100, 0)
    assert (await fresh_case(jobs.db, case)).status == RefundCaseStatus.REFUNDED
