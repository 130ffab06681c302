"""A refund whose completion deadline escalates to level 2 opens a REFUND_DELAY complaint
on the consumer's behalf, exactly once: the sweep, the relay and the job on real workers;
re-run sweeps, later levels and concurrent sweeps and jobs (PostgreSQL) open no second."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from qrefund.jobs.complaints import open_refund_delay_complaint
from qrefund.jobs.deadlines import deadline_sweep
from qrefund.jobs.registry import QUEUE_NOTIFICATIONS
from qrefund.platform.complaints.refund_delay import OPENED_BY
from qrefund.platform.notifications.models import Notification
from tests.complaints.helpers import rows
from tests.complaints.jobs import outbox, sweep, tickets_of_case, timers
from tests.jobs.support import BACKGROUND, approved_case, fresh_case, submitted_case

SECOND = timedelta(seconds=1)
EVERYTHING = (*BACKGROUND, QUEUE_NOTIFICATIONS)


async def _late_case(workers, world, **kw):
    """An approved case whose payout never ran: its completion timer, armed."""
    case = await approved_case(workers.db, world, contact_email="li.wei@example.com", **kw)
    await workers.drain(BACKGROUND)
    timer = (await timers(workers.db, case.id))["sla"]
    assert timer.kind == "completion"
    return case, timer


def _reescalation(workers):
    return timedelta(hours=workers.settings.deadline_reescalate_hours)


async def test_level_two_opens_one_high_priority_complaint_for_the_consumer(
        db, world, workers):
    case, timer = await _late_case(workers, world)
    assert (await sweep(workers, timer.due_at + SECOND))["breached"] == 1
    await workers.drain(EVERYTHING)
    assert await tickets_of_case(workers.db, case.id) == []  # level 1: not yet

    level_two = timer.due_at + _reescalation(workers) + 2 * SECOND
    assert (await sweep(workers, level_two))["escalated"] == 1
    await workers.drain(EVERYTHING)
    assert (await fresh_case(workers.db, case)).escalation_level == 2
    [ticket] = await tickets_of_case(workers.db, case.id)
    assert (ticket.category, ticket.priority, ticket.status) == ("REFUND_DELAY", "HIGH", "OPEN")
    assert (ticket.transaction_id, ticket.opened_by) == (case.transaction_id, OPENED_BY)
    assert case.case_number in ticket.description
    assert ticket.channel == case.channel and ticket.contact_email_enc is not None
    opened = (await outbox(workers.db, ticket.id))[0]
    assert opened.type == "complaint.opened" and opened.payload["refundCaseId"] == str(case.id)
    # The consumer is told, by the contact they left on the refund
    told = await rows(db, world, Notification, Notification.subject_id == ticket.id)
    assert [(n.event_type, n.channel, n.status) for n in told] == [
        ("complaint.opened", "EMAIL", "SENT")]
    assert ticket.ticket_number in told[0].body

    # Later levels and re-run sweeps open no second ticket
    for days in (2, 3, 4):
        await sweep(workers, timer.due_at + days * _reescalation(workers) + 3 * SECOND)
        await sweep(workers, timer.due_at + days * _reescalation(workers) + 3 * SECOND)
        await workers.drain(EVERYTHING)
    assert (await fresh_case(workers.db, case)).escalation_level == 5
    assert len(await tickets_of_case(workers.db, case.id)) == 1
    # The job itself, run again by hand, finds the ticket
    again = await open_refund_delay_complaint(str(case.tenant_id), str(case.id), 5)
    assert again == {"ticketId": str(ticket.id), "opened": False}


async def test_the_review_deadline_opens_no_complaint(db, world, workers):
    case = await submitted_case(workers.db, world)
    await workers.drain(BACKGROUND)
    timer = (await timers(workers.db, case.id))["sla"]
    assert timer.kind == "review"
    await sweep(workers, timer.due_at + SECOND)
    await sweep(workers, timer.due_at + _reescalation(workers) + 2 * SECOND)
    await workers.drain(EVERYTHING)
    assert (await fresh_case(workers.db, case)).escalation_level == 2
    assert await tickets_of_case(workers.db, case.id) == []


@pytest.mark.postgres_only
async def test_two_concurrent_sweeps_open_one_complaint(db, world, workers):
    case, timer = await _late_case(workers, world)
    await sweep(workers, timer.due_at + SECOND)
    level_two = (timer.due_at + _reescalation(workers) + 2 * SECOND).isoformat()
    dispatched = await asyncio.gather(deadline_sweep(level_two), deadline_sweep(level_two))
    assert sum(d["due"] for d in dispatched) == 1  # the timer is claimed once
    await workers.drain(EVERYTHING)
    assert len(await tickets_of_case(workers.db, case.id)) == 1


@pytest.mark.postgres_only
async def test_two_concurrent_jobs_open_one_complaint(db, world, workers):
    case, _timer = await _late_case(workers, world)
    args = (str(case.tenant_id), str(case.id), 2)
    results = await asyncio.gather(*(open_refund_delay_complaint(*args) for _ in range(3)))
    assert sorted(r["opened"] for r in results) == [False, False, True]
    assert len({r["ticketId"] for r in results}) == 1
    assert len(await tickets_of_case(workers.db, case.id)) == 1
    # The case itself is untouched: no event of another family on it.
    assert all(e.type.startswith("refund_case.") for e in await outbox(workers.db, case.id))


async def test_the_unique_index_holds_when_both_checks_miss(db, world, workers, monkeypatch):
    """The race the concurrent test may or may not hit, forced: both jobs look before either
    commits (the look-up finds nothing), so the second one's insert meets the partial
    unique index, rolls back to its savepoint and returns the first ticket."""
    from qrefund.platform.complaints import refund_delay

    case, _timer = await _late_case(workers, world)
    looked, real = [], refund_delay._existing

    async def racing(uow, late_case):
        looked.append(late_case.id)
        return None if len(looked) <= 2 else await real(uow, late_case)

    monkeypatch.setattr(refund_delay, "_existing", racing)
    args = (str(case.tenant_id), str(case.id), 2)
    first = await open_refund_delay_complaint(*args)
    second = await open_refund_delay_complaint(*args)
    assert (first["opened"], second["opened"]) == (True, False)
    assert first["ticketId"] == second["ticketId"] and len(looked) == 3
    assert len(await tickets_of_case(workers.db, case.id)) == 1
