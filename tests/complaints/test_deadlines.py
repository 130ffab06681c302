"""A ticket's two deadline timers under the real job runtime: the outbox relay keeps them
in step with the ticket (real RQ workers), the sweep warns, breaches and escalates.
Business hours across Golden Week, a pause while waiting for the customer, levels,
reassignment to the escalation contact, the agency told from level 2."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from qrefund.jobs.registry import QUEUES
from qrefund.platform.complaints import service
from qrefund.platform.deadlines import service as deadlines
from tests.complaints.api import done, opened, ticket_key
from tests.complaints.helpers import consumer
from tests.complaints.jobs import outbox, sweep, ticket, timeline, timers
from tests.jobs.support import BACKGROUND
from tests.refunds.api import publish
from tests.refunds.helpers import record_txn, scope_of
from tests.webhooks.api import created

SECOND = timedelta(seconds=1)
SUPPORT = ("a", "SUPPORT")
HOURS = {"low": 40, "normal": 4, "high": 2, "urgent": 1}
RESOLUTION = {"low": 80, "normal": 16, "high": 8, "urgent": 4}


def sh(text: str) -> datetime:
    return datetime.fromisoformat(f"{text}+08:00")


async def _contact(db, world, who, assignee, tenant=None):
    async with db.unit_of_work(await scope_of(db, world, who)) as uow:
        await deadlines.set_escalation_contact(uow, tenant, assignee)


async def _business_hours_ticket(client, db, world, clock, workers):
    """A NORMAL ticket opened on the eve of Golden Week under a business-hours policy."""
    await publish(client, world.key("a"), slaClock="BUSINESS_HOURS",
                  complaintFirstResponseHours=HOURS, complaintResolutionHours=RESOLUTION)
    txn = await record_txn(db, world)
    clock.at(sh("2026-09-30T15:00:00"))
    opened_ticket = await opened(client, world.key(*SUPPORT), txn=txn)
    await workers.drain(BACKGROUND)
    return txn, opened_ticket, ticket_key(opened_ticket)


async def test_opening_arms_both_timers_at_the_tickets_deadlines(
        client, db, world, clock, workers):
    _txn, _t, (_tid, ticket_id) = await _business_hours_ticket(client, db, world, clock, workers)
    found = await timers(workers.db, ticket_id)
    assert set(found) == {"first_response", "resolution"}
    assert found["first_response"].due_at == sh("2026-10-08T10:00:00")  # 3 h + 1 h
    assert found["resolution"].due_at == sh("2026-10-09T13:00:00")  # 3 h + 9 h + 4 h
    for timer in found.values():
        assert timer.kind == timer.name and timer.next_check_at == timer.warn_at
        assert timer.started_at == sh("2026-09-30T15:00:00")
    # Nothing is due before the first warning.
    first_warning = min(t.warn_at for t in found.values())
    assert (await sweep(workers, first_warning - SECOND))["due"] == 0


async def test_across_golden_week_a_pause_stops_both_clocks_and_the_answer_moves_one(
        client, db, world, clock, workers):
    txn, opened_ticket, key = await _business_hours_ticket(client, db, world, clock, workers)
    armed = await timers(workers.db, key[1])
    # Warned once for the first response, while the clock runs
    warn = armed["first_response"].warn_at
    assert warn < armed["resolution"].warn_at
    assert (await sweep(workers, warn + SECOND))["warned"] == 1
    assert (await sweep(workers, warn + 2 * SECOND))["due"] == 0

    # Support asks the consumer at 16:00: the first response is given, the clock pauses
    clock.at(sh("2026-09-30T16:00:00"))
    await done(client, "RequestComplaintInfo", world.key(*SUPPORT), id=opened_ticket["id"],
               message="Which store was it?")
    await workers.drain(BACKGROUND)
    paused = await timers(workers.db, key[1])
    assert paused["first_response"].next_check_at is None  # answered: it stops for good
    assert paused["resolution"].next_check_at is None  # waiting for the customer
    past_everything = sh("2026-10-20T00:00:00")
    assert (await sweep(workers, past_everything))["due"] == 0
    assert (await ticket(workers.db, key[1])).escalation_level == 0

    # The answer comes on Thursday Oct 8 at 11:00: 4 working hours lost, not 8 days
    clock.at(sh("2026-10-08T11:00:00"))
    async with db.unit_of_work(consumer(txn)) as uow:
        await service.consumer_reply(uow, *key, message="Nanjing Road")
    await workers.drain(BACKGROUND)
    resumed = (await timers(workers.db, key[1]))["resolution"]
    assert resumed.due_at == sh("2026-10-09T17:00:00")
    assert resumed.warned_at is None and resumed.breached_at is None
    assert resumed.next_check_at == resumed.warn_at
    # The old deadline (13:00) passes without a breach; the new one breaches.
    assert (await sweep(workers, sh("2026-10-09T13:00:01")))["breached"] == 0
    assert (await sweep(workers, resumed.due_at + SECOND))["breached"] == 1
    kinds = [e.type for e in await outbox(workers.db, key[1])]
    assert kinds.count("complaint.deadline_warning") == 2  # first response, then resolution
    assert kinds[-1] == "complaint.deadline_breached"


async def test_breach_reassigns_to_the_contact_and_level_two_tells_the_agency(
        client, db, world, clock, workers, receiver):
    await _contact(db, world, "a", "duty@merchant-a")
    await created(client, world.key("agency"), receiver.url, [
        "complaint.deadline_warning", "complaint.deadline_breached", "complaint.agency_notified"])
    _txn, _t, key = await _business_hours_ticket(client, db, world, clock, workers)
    await done(client, "AssignComplaint", world.key(*SUPPORT), id=_t["id"], assignee="li.na")
    await workers.drain(BACKGROUND)
    first = (await timers(workers.db, key[1]))["first_response"]

    assert (await sweep(workers, first.due_at + SECOND))["breached"] == 1
    breached = await ticket(workers.db, key[1])
    assert (breached.escalation_level, breached.assignee) == (1, "duty@merchant-a")
    # A public reply stops the first-response timer (no further level from it); then the
    # resolution deadline breaches: a second level, the agency told
    clock.at(sh("2026-10-08T10:30:00"))
    await done(client, "ReplyToComplaint", world.key(*SUPPORT), id=_t["id"],
               message="Sorry for the wait, we are checking.")
    await workers.drain(BACKGROUND)
    assert (await timers(workers.db, key[1]))["first_response"].next_check_at is None
    resolution = (await timers(workers.db, key[1]))["resolution"]
    result = await sweep(workers, resolution.due_at + SECOND)
    assert result["breached"] == 1
    level_two = await ticket(workers.db, key[1])
    assert (level_two.escalation_level, level_two.assignee) == (2, "duty@merchant-a")
    entries = [e for e in await timeline(workers.db, key[1])
               if e.type in ("deadline_breached", "escalated", "agency_notified")]
    assert [(e.type, e.data["deadline"], e.data["escalationLevel"]) for e in entries] == [
        ("deadline_breached", "first_response", 1), ("deadline_breached", "resolution", 2),
        ("agency_notified", "resolution", 2)]
    assert entries[0].data["previousAssignee"] == "li.na"
    assert entries[0].actor == "deadline-sweep"
    notified = (await outbox(workers.db, key[1]))[-1]
    assert notified.type == "complaint.agency_notified"
    assert notified.payload["agencyId"] == str(world.agency_id)
    assert notified.payload["escalationLevel"] == 2 and notified.payload["ticketNumber"]
    # The agency's webhook endpoint received them, for real (its merchants' events)
    await workers.drain(QUEUES)
    delivered = [json.loads(r.body) for r in receiver.requests]
    wanted = ("complaint.deadline_warning", "complaint.deadline_breached",
              "complaint.agency_notified")
    written = sorted(e.type for e in await outbox(workers.db, key[1]) if e.type in wanted)
    assert sorted(d["type"] for d in delivered) == written
    assert written.count("complaint.deadline_breached") == 2
    assert {d["data"]["ticketId"] for d in delivered} == {str(key[1])}
    # Re-escalation a full interval later, one level per sweep however late it runs
    later = resolution.due_at + timedelta(days=10)
    assert (await sweep(workers, later))["escalated"] == 1
    assert (await sweep(workers, later + SECOND))["due"] == 0
    assert (await ticket(workers.db, key[1])).escalation_level == 3


async def test_resolving_and_closing_stop_every_timer(client, db, world, clock, workers):
    _txn, opened_ticket, key = await _business_hours_ticket(client, db, world, clock, workers)
    clock.at(sh("2026-09-30T16:00:00"))
    await done(client, "ResolveComplaint", world.key(*SUPPORT), id=opened_ticket["id"],
               resolution="EXPLAINED", note="Explained on the phone.")
    await workers.drain(BACKGROUND)
    assert {t.next_check_at for t in (await timers(workers.db, key[1])).values()} == {None}
    assert (await sweep(workers, sh("2026-12-31T00:00:00")))["due"] == 0
    # Reopening starts a fresh resolution clock (the first response was the resolution)
    clock.at(sh("2026-10-08T09:30:00"))
    await done(client, "ReopenComplaint", world.key(*SUPPORT), id=opened_ticket["id"],
               reason="The consumer called back.")
    await workers.drain(BACKGROUND)
    reopened = await timers(workers.db, key[1])
    assert reopened["first_response"].next_check_at is None
    assert reopened["resolution"].started_at == sh("2026-10-08T09:30:00")
    assert reopened["resolution"].due_at == sh("2026-10-09T16:30:00")  # 16 working hours
    assert reopened["resolution"].next_check_at is not None


async def test_a_standalone_merchants_ticket_notifies_no_agency(
        client, db, world, clock, workers):
    txn = await record_txn(db, world, "c")
    opened_ticket = await opened(client, world.key("c", "SUPPORT"), txn=txn)
    await workers.drain(BACKGROUND)
    key = ticket_key(opened_ticket)
    resolution = (await timers(workers.db, key[1]))["resolution"]
    await sweep(workers, resolution.due_at + SECOND)  # both deadlines: two levels at once
    kinds = [e.type for e in await outbox(workers.db, key[1])]
    assert kinds.count("complaint.deadline_breached") == 2
    assert "complaint.agency_notified" not in kinds
    assert (await ticket(workers.db, key[1])).escalation_level == 2
