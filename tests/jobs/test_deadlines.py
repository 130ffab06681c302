"""Deadline timers and the sweep: warnings, breaches, escalation, pauses, extensions."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest
from rq.job import Job
from sqlalchemy import select, text
from sqlmodel import col

from qrefund.jobs import runtime
from qrefund.jobs.deadlines import claim_batches, deadline_sweep, process_batch
from qrefund.platform.clock import utcnow
from qrefund.platform.db import Database
from qrefund.platform.deadlines import service as deadlines
from qrefund.platform.deadlines.models import DeadlineTimer
from qrefund.platform.deadlines.service import Escalation, Running, SweepPolicy
from qrefund.platform.deadlines.subjects import SUBJECTS
from qrefund.platform.outbox.models import DomainEvent, TenantSequence
from qrefund.platform.refunds import service as refunds
from qrefund.platform.refunds.models import RefundCase, RefundCaseEvent
from tests.jobs.support import BACKGROUND, JobHarness, as_, fresh_case, submitted_case
from tests.support.raw import unchecked
from tests.support.world import World

SECOND = timedelta(seconds=1)


async def timer_of(db: Database, case: RefundCase) -> DeadlineTimer | None:
    async with db.unit_of_work(runtime.system_scope("test"), readonly=True) as uow:
        found = (await unchecked(uow).execute(select(DeadlineTimer).where(
            col(DeadlineTimer.subject_id) == case.id))).scalar_one_or_none()
        if found is not None:
            uow._session.expunge(found)
    return found


async def timeline(db: Database, case: RefundCase) -> list[RefundCaseEvent]:
    async with db.unit_of_work(runtime.system_scope("test"), readonly=True) as uow:
        rows = list((await unchecked(uow).execute(
            select(RefundCaseEvent).where(col(RefundCaseEvent.case_id) == case.id)
            .order_by(col(RefundCaseEvent.seq)))).scalars())
        for row in rows:
            uow._session.expunge(row)
    return rows


RESULT_KEYS = ("due", "warned", "breached", "escalated", "resynced", "failed")


async def collect(jobs: JobHarness, dispatched: dict[str, Any]) -> dict[str, int]:
    """Run the batch jobs a sweep enqueued (real workers) and add up their results."""
    await jobs.drain(BACKGROUND)
    totals = dict.fromkeys(RESULT_KEYS, 0)
    for job_id in dispatched["jobs"]:
        for key, value in Job.fetch(job_id, connection=jobs.redis).return_value().items():
            totals[key] += value
    return totals


async def sweep(jobs: JobHarness, at: datetime) -> dict[str, int]:
    dispatched = await deadline_sweep(at.isoformat())
    return await collect(jobs, dispatched)


async def set_contact(db: Database, world: World, who: str, assignee: str,
                      tenant: Any = None) -> None:
    async with db.unit_of_work(await as_(db, world, who)) as uow:
        await deadlines.set_escalation_contact(uow, tenant, assignee)


async def tracked_case(jobs: JobHarness, world: World, who: str = "a",
                       amount: str = "10.00") -> tuple[RefundCase, DeadlineTimer]:
    case = await submitted_case(jobs.db, world, amount, who)
    await jobs.drain(BACKGROUND)
    timer = await timer_of(jobs.db, case)
    assert timer is not None
    return case, timer


async def test_submission_arms_a_review_timer_at_the_case_deadline(
    jobs: JobHarness, world: World
) -> None:
    case, timer = await tracked_case(jobs, world)
    assert timer.kind == "review" and timer.due_at == case.review_due_at
    fraction = jobs.settings.deadline_warning_fraction
    assert timer.warn_at == case.created_at + (case.review_due_at - case.created_at) * fraction
    assert timer.next_check_at == timer.warn_at
    assert await sweep(jobs, utcnow()) == dict.fromkeys(RESULT_KEYS, 0)


async def test_warning_breach_and_escalation_to_the_agency(jobs: JobHarness, world: World) -> None:
    await set_contact(jobs.db, world, "a", "team-lead@merchant-a")
    case, timer = await tracked_case(jobs, world)

    assert (await sweep(jobs, timer.warn_at + SECOND))["warned"] == 1
    assert (await sweep(jobs, timer.warn_at + 2 * SECOND))["due"] == 0  # warned once
    assert (await sweep(jobs, timer.due_at + SECOND))["breached"] == 1
    breached = await fresh_case(jobs.db, case)
    assert (breached.escalation_level, breached.assignee) == (1, "team-lead@merchant-a")

    later = timer.due_at + timedelta(hours=jobs.settings.deadline_reescalate_hours) + 2 * SECOND
    assert (await sweep(jobs, later))["escalated"] == 1
    assert (await fresh_case(jobs.db, case)).escalation_level == 2
    kinds = [e.type for e in await timeline(jobs.db, case)]
    assert kinds[-4:] == ["deadline_warning", "deadline_breached", "escalated", "agency_notified"]
    notified = (await timeline(jobs.db, case))[-1]
    assert notified.data["agencyId"] == str(world.agency_id)
    assert notified.data["escalationLevel"] == 2


async def test_a_late_sweep_escalates_one_level_not_one_per_missed_interval(
    jobs: JobHarness, world: World
) -> None:
    case, timer = await tracked_case(jobs, world)
    much_later = timer.due_at + timedelta(days=10)
    result = await sweep(jobs, much_later)
    assert result["breached"] == 1 and result["escalated"] == 0
    assert (await sweep(jobs, much_later + SECOND))["due"] == 0
    assert (await fresh_case(jobs.db, case)).escalation_level == 1


async def test_a_standalone_merchant_has_no_agency_to_notify(
    jobs: JobHarness, world: World
) -> None:
    case, timer = await tracked_case(jobs, world, "c", "100")
    await sweep(jobs, timer.due_at + SECOND)
    reescalate = timedelta(hours=jobs.settings.deadline_reescalate_hours)
    await sweep(jobs, timer.due_at + reescalate + 2 * SECOND)
    kinds = [e.type for e in await timeline(jobs.db, case)]
    assert "escalated" in kinds and "agency_notified" not in kinds


async def test_an_agency_contact_applies_to_merchants_without_their_own(
    jobs: JobHarness, world: World
) -> None:
    await set_contact(jobs.db, world, "agency", "duty@agency-one", world.agency_id)
    case, timer = await tracked_case(jobs, world, "b")
    await sweep(jobs, timer.due_at + SECOND)
    assert (await fresh_case(jobs.db, case)).assignee == "duty@agency-one"


async def test_awaiting_info_pauses_the_clock_and_the_answer_restarts_it(
    jobs: JobHarness, world: World
) -> None:
    case, timer = await tracked_case(jobs, world)
    agent = await as_(jobs.db, world, "a", "REFUND_AGENT")
    async with jobs.db.unit_of_work(agent) as uow:
        await refunds.start_review(uow, case.tenant_id, case.id)
        await refunds.request_info(uow, case.tenant_id, case.id, message="a photo, please")
    await jobs.drain(BACKGROUND)
    paused = await timer_of(jobs.db, case)
    assert paused is not None and paused.next_check_at is None
    assert (await sweep(jobs, timer.due_at + timedelta(hours=1)))["due"] == 0

    async with jobs.db.unit_of_work(agent) as uow:
        await refunds.provide_info(uow, case.tenant_id, case.id, message="photo attached")
    await jobs.drain(BACKGROUND)
    resumed = await timer_of(jobs.db, case)
    moved = await fresh_case(jobs.db, case)
    assert resumed is not None and resumed.due_at == moved.review_due_at >= timer.due_at
    assert resumed.next_check_at is not None


async def test_an_extension_moves_the_deadline(jobs: JobHarness, world: World) -> None:
    case, timer = await tracked_case(jobs, world)
    new_due = timer.due_at + timedelta(hours=24)
    async with jobs.db.unit_of_work(await as_(jobs.db, world, "a", "REFUND_AGENT")) as uow:
        await refunds.extend_deadline(uow, case.tenant_id, case.id, until=new_due,
                                      reason="waiting for the terminal log")
    jobs.clear_queues()  # the timer is now stale: the sweep must notice by itself
    result = await sweep(jobs, timer.due_at + SECOND)
    assert result["resynced"] == 1 and result["breached"] == 0
    assert (await fresh_case(jobs.db, case)).escalation_level == 0
    resynced = await timer_of(jobs.db, case)
    assert resynced is not None and resynced.due_at == new_due
    assert (await sweep(jobs, new_due + SECOND))["breached"] == 1


async def test_approval_switches_to_the_completion_deadline_and_refunding_stops_it(
    jobs: JobHarness, world: World
) -> None:
    case, _ = await tracked_case(jobs, world)
    async with jobs.db.unit_of_work(await as_(jobs.db, world, "a", "REFUND_AGENT")) as uow:
        await refunds.start_review(uow, case.tenant_id, case.id)
        await refunds.approve(uow, case.tenant_id, case.id)
    await jobs.drain(BACKGROUND)
    completion = await timer_of(jobs.db, case)
    assert completion is not None and completion.kind == "completion"
    assert completion.due_at == case.completion_due_at

    await jobs.drain()  # the payout goes through: the case is REFUNDED
    await jobs.drain(BACKGROUND)
    closed = await timer_of(jobs.db, case)
    assert closed is not None and closed.next_check_at is None


class BrokenSubject:
    """A subject whose handling always raises (a bug, bad data...)."""

    type = "broken"
    event_family = "broken"
    own_events = frozenset[str]()
    due = utcnow() - timedelta(days=1)

    async def load(self, uow: Any, keys: Any, *, lock: bool) -> dict[Any, Any]:
        return {key: object() for key in keys}

    def running(self, subject: Any) -> dict[str, Running]:
        return {"sla": Running(kind="review", started_at=self.due - timedelta(days=2),
                               due_at=self.due)}

    def escalation_level(self, subject: Any) -> int:
        return 0

    async def warn(self, uow: Any, subject: Any, timer: Any) -> None:
        raise RuntimeError("cannot warn")

    async def escalate(self, uow: Any, subject: Any, timer: Any, escalation: Escalation) -> None:
        raise RuntimeError("cannot escalate")


@pytest.fixture
def broken_subject() -> Any:
    SUBJECTS.register(BrokenSubject())
    yield
    SUBJECTS.unregister("broken")


@pytest.mark.usefixtures("broken_subject")
async def test_one_bad_case_does_not_stop_the_sweep(jobs: JobHarness, world: World) -> None:
    good = [await tracked_case(jobs, world) for _ in range(2)]
    async with jobs.db.unit_of_work(runtime.job_scope(world.merchant_a)) as uow:
        (bad,) = (await deadlines.sync(uow, "broken", world.merchant_a, world.merchant_b,
                                       SweepPolicy())).values()
    assert bad.due_at < good[0][1].due_at  # first in line
    at = max(t.due_at for _, t in good) + SECOND
    [(claimed, lease)] = await claim_batches(at)
    result = await process_batch(claimed, lease, now=at)
    assert result.breached == 2 and result.failed == [f"broken:{world.merchant_b}:sla"]
    for case, _ in good:
        assert (await fresh_case(jobs.db, case)).escalation_level == 1
    async with jobs.db.unit_of_work(runtime.system_scope("test"), readonly=True) as uow:
        failed = (await unchecked(uow).execute(select(DeadlineTimer).where(
            col(DeadlineTimer.subject_type) == "broken"))).scalar_one()
        assert failed.failures == 1 and failed.next_check_at == at + timedelta(minutes=5)
    # The good ones moved on to their next step; the claim of a lost batch expires.
    assert (await sweep(jobs, at))["due"] == 0


async def assert_gapless_event_numbers(db: Database, tenant_ids: list[Any]) -> None:
    async with db.unit_of_work(runtime.system_scope("test"), readonly=True) as uow:
        for tenant_id in tenant_ids:
            seqs = list((await unchecked(uow).execute(
                select(DomainEvent.seq).where(col(DomainEvent.tenant_id) == tenant_id)
                .order_by(col(DomainEvent.seq)))).scalars())
            counter = (await unchecked(uow).execute(select(TenantSequence.value).where(
                col(TenantSequence.tenant_id) == tenant_id,
                col(TenantSequence.name) == "events"))).scalar_one()
            assert seqs == list(range(1, counter + 1))


async def test_event_numbers_stay_gapless_when_reserved_numbers_go_unused(
    jobs: JobHarness, world: World
) -> None:
    # The batch reserves two numbers per due subject; warnings use one, a resync none.
    _warned, timer = await tracked_case(jobs, world)
    moved, moved_timer = await tracked_case(jobs, world, "b")
    async with jobs.db.unit_of_work(await as_(jobs.db, world, "b", "REFUND_AGENT")) as uow:
        await refunds.extend_deadline(uow, moved.tenant_id, moved.id,
                                      until=moved.review_due_at + timedelta(hours=5),
                                      reason="more time")
    jobs.clear_queues()
    # Both timers due (the second case was opened a little later: on a busy machine,
    # more than a second later).
    result = await sweep(jobs, max(timer.warn_at, moved_timer.warn_at) + SECOND)
    assert result["warned"] == 1 and result["resynced"] == 1
    await assert_gapless_event_numbers(jobs.db, [world.merchant_a, world.merchant_b])


@pytest.mark.postgres_only
async def test_concurrent_sweeps_handle_each_deadline_once(jobs: JobHarness, world: World) -> None:
    tracked = [await tracked_case(jobs, world, who) for who in "abab" * 2]
    at = (max(t.due_at for _, t in tracked) + SECOND).isoformat()
    dispatched = await asyncio.gather(*(asyncio.to_thread(asyncio.run, deadline_sweep(at))
                                        for _ in range(3)))
    assert sum(d["due"] for d in dispatched) == 8  # the sweeps claimed disjoint timers
    results = [await collect(jobs, d) for d in dispatched]
    assert sum(r["breached"] for r in results) == 8
    for case, _ in tracked:
        assert [e.type for e in await timeline(jobs.db, case)].count("deadline_breached") == 1
    await assert_gapless_event_numbers(jobs.db, [world.merchant_a, world.merchant_b])


@pytest.mark.postgres_only
async def test_the_sweep_query_reads_the_due_index(jobs: JobHarness, owner_engine: Any) -> None:
    async with jobs.db.unit_of_work(runtime.system_scope("test"), readonly=True) as uow:
        stmt = select(DeadlineTimer).where(col(DeadlineTimer.next_check_at).is_not(None),
                                           col(DeadlineTimer.next_check_at) <= utcnow())
        stmt = stmt.order_by(col(DeadlineTimer.next_check_at)).limit(1000)
        sql = str(stmt.compile(uow._session.bind, compile_kwargs={"literal_binds": True}))
    with owner_engine.begin() as conn:
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(r[0] for r in conn.execute(text(f"EXPLAIN {sql}")))
    assert "ix_deadline_timers_next_check" in plan


async def test_a_batch_acts_only_on_timers_still_carrying_its_claim(
    jobs: JobHarness, world: World
) -> None:
    case, timer = await tracked_case(jobs, world)
    at = timer.due_at + SECOND
    [(first_keys, first_lease)] = await claim_batches(at)
    assert await claim_batches(at) == []  # claimed: not due again while the lease runs
    # That batch's job is slow or lost; once its lease is over, the next sweep claims
    # the timer again.
    later = first_lease + SECOND
    [(again_keys, again_lease)] = await claim_batches(later)
    assert again_keys == first_keys and again_lease != first_lease
    assert (await process_batch(first_keys, first_lease, now=later)).due == 0  # stale claim
    assert (await process_batch(again_keys, again_lease, now=later)).breached == 1
    assert (await fresh_case(jobs.db, case)).escalation_level == 1
