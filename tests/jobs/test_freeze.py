"""Suspending a merchant with openCases FREEZE or CONTINUE: what the deadline sweep and
the payout jobs do with its open cases, and the deadline shift at reactivation."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from qrefund.jobs.deadlines import deadline_sweep, policy
from qrefund.platform.db import Database
from qrefund.platform.deadlines import freeze
from qrefund.platform.vocabulary import RefundCaseStatus
from qrefund.tenants import lifecycle
from tests.jobs.freeze_support import backdate_suspension
from tests.jobs.support import (
    BACKGROUND,
    JobHarness,
    approved_case,
    as_,
    event_count,
    fresh_case,
    payouts_of,
    submitted_case,
)
from tests.jobs.test_deadlines import collect, timeline, timer_of
from tests.support.world import World

SECOND = timedelta(seconds=1)
FROZEN_FOR = timedelta(hours=10)


async def suspend(db: Database, world: World, open_cases: str) -> None:
    async with db.unit_of_work(await as_(db, world, "agency")) as uow:
        await lifecycle.change_status(uow, world.merchant_a, "suspended", "contract review",
                                      open_cases=open_cases)


async def reactivate(jobs: JobHarness, world: World) -> int:
    async with jobs.db.unit_of_work(await as_(jobs.db, world, "agency")) as uow:
        _, moved = await freeze.reactivate(uow, world.merchant_a, None, policy(jobs.settings))
    return moved


async def sweep_at(jobs: JobHarness, at: datetime) -> dict[str, int]:
    return await collect(jobs, await deadline_sweep(at.isoformat()))


async def test_a_frozen_merchants_cases_are_not_escalated_and_move_on_at_reactivation(
    jobs: JobHarness, world: World, owner_engine: Any
) -> None:
    case = await submitted_case(jobs.db, world)
    other = await submitted_case(jobs.db, world, who="b")  # a sibling: not frozen
    await jobs.drain(BACKGROUND)
    timer = await timer_of(jobs.db, case)
    assert timer is not None
    await suspend(jobs.db, world, "FREEZE")

    result = await sweep_at(jobs, timer.due_at + SECOND)
    assert result["breached"] == 1  # the sibling's case, not the frozen one
    assert (await fresh_case(jobs.db, other)).escalation_level == 1
    frozen = await fresh_case(jobs.db, case)
    assert frozen.escalation_level == 0
    stopped = await timer_of(jobs.db, case)
    assert stopped is not None and stopped.next_check_at is None
    assert await event_count(jobs.db, "refund_case.deadline_breached", case.id) == 0

    started = backdate_suspension(owner_engine, world.merchant_a, FROZEN_FOR)
    assert await reactivate(jobs, world) == 1
    moved = await fresh_case(jobs.db, case)
    shift = moved.review_due_at - frozen.review_due_at
    assert FROZEN_FOR <= shift < FROZEN_FOR + timedelta(seconds=30)
    assert moved.completion_due_at - frozen.completion_due_at == shift
    [event] = [e for e in await timeline(jobs.db, case) if e.type == "deadlines_shifted"]
    assert event.data["frozenFrom"] == started.isoformat()
    assert event.data["previousReviewDueAt"] == frozen.review_due_at.isoformat()
    restarted = await timer_of(jobs.db, case)
    assert restarted is not None
    assert restarted.due_at == moved.review_due_at and restarted.next_check_at is not None
    # The old deadline is no longer a breach; the moved one is.
    assert (await sweep_at(jobs, timer.due_at + 2 * SECOND))["breached"] == 0
    assert (await sweep_at(jobs, moved.review_due_at + SECOND))["breached"] == 1
    # Reactivating writes the lifecycle event with the freeze it ended.
    assert await event_count(jobs.db, "tenant.reactivated") == 1


async def test_a_frozen_merchants_approved_case_is_paid_only_after_reactivation(
    jobs: JobHarness, world: World
) -> None:
    case = await approved_case(jobs.db, world, "12.34")
    await suspend(jobs.db, world, "FREEZE")
    await jobs.drain()
    assert (await fresh_case(jobs.db, case)).status == RefundCaseStatus.APPROVED
    assert await payouts_of(jobs.db, case) == []
    assert jobs.sandbox().ledger() == []

    await reactivate(jobs, world)
    from qrefund.jobs.payouts import create_payout  # the stranded-approval sweep's job

    await create_payout(str(case.tenant_id), str(case.id))
    await jobs.drain()
    assert (await fresh_case(jobs.db, case)).status == RefundCaseStatus.REFUNDED
    assert len(jobs.sandbox().ledger()) == 1


async def test_continue_keeps_the_platform_working_a_suspended_merchants_cases(
    jobs: JobHarness, world: World
) -> None:
    case = await submitted_case(jobs.db, world)
    approved = await approved_case(jobs.db, world, "12.34")
    await jobs.drain(BACKGROUND)
    timer = await timer_of(jobs.db, case)
    assert timer is not None
    await suspend(jobs.db, world, "CONTINUE")

    await jobs.drain()  # the approval's payout goes out
    assert (await fresh_case(jobs.db, approved)).status == RefundCaseStatus.REFUNDED
    assert (await sweep_at(jobs, timer.due_at + SECOND))["breached"] >= 1
    assert (await fresh_case(jobs.db, case)).escalation_level == 1
    # Nothing to move at reactivation: the cases were never frozen.
    assert await reactivate(jobs, world) == 0
    assert await event_count(jobs.db, "refund_case.deadlines_shifted") == 0
