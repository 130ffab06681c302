"""The two SLA clocks of a ticket: first response and resolution, from the stamped
policy's hours per priority, on its clock (business hours skip nights, weekends and
holidays), the resolution clock paused while waiting for the customer."""

from __future__ import annotations

from datetime import datetime, timedelta

from qrefund.platform.complaints import service
from tests.complaints.api import done, opened, ticket_key
from tests.complaints.helpers import consumer
from tests.refunds.api import publish
from tests.refunds.helpers import record_txn

SUPPORT = ("a", "SUPPORT")
HOURS = {"low": 40, "normal": 4, "high": 2, "urgent": 1}
RESOLUTION = {"low": 80, "normal": 16, "high": 8, "urgent": 4}


def sh(text: str) -> datetime:
    return datetime.fromisoformat(f"{text}+08:00")


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def test_business_hours_across_golden_week_and_a_pause(client, db, world, clock):
    # Given a business-hours policy (09-18 Shanghai, China's holidays) and a ticket opened
    # on Wednesday 2026-09-30 at 15:00, the eve of Golden Week (Oct 1-7 off)
    await publish(client, world.key("a"), slaClock="BUSINESS_HOURS",
                  complaintFirstResponseHours=HOURS, complaintResolutionHours=RESOLUTION)
    txn = await record_txn(db, world)
    clock.at(sh("2026-09-30T15:00:00"))
    ticket = await opened(client, world.key(*SUPPORT), txn=txn)
    # Then 3 h count on Wednesday and the rest after the holiday
    assert at(ticket["firstResponseDueAt"]) == sh("2026-10-08T10:00:00")  # 3 h + 1 h
    assert at(ticket["resolutionDueAt"]) == sh("2026-10-09T13:00:00")  # 3 h + 9 h + 4 h
    assert at(ticket["nextDueAt"]) == at(ticket["firstResponseDueAt"])

    # When support asks the consumer at 16:00 (the first response) and the answer comes on
    # Thursday Oct 8 at 11:00
    clock.at(sh("2026-09-30T16:00:00"))
    waiting = await done(client, "RequestComplaintInfo", world.key(*SUPPORT), id=ticket["id"],
                         message="Which store was it?")
    assert at(waiting["firstRespondedAt"]) == sh("2026-09-30T16:00:00")
    assert waiting["nextDueAt"] is None  # paused
    clock.at(sh("2026-10-08T11:00:00"))
    async with db.unit_of_work(consumer(txn)) as uow:
        answered = await service.consumer_reply(uow, *ticket_key(ticket), message="Nanjing Rd")
    # Then the pause cost 4 working hours (Wed 16-18, Thu 09-11), not 8 days
    assert answered.sla_paused_seconds == 4 * 3600
    assert answered.resolution_due_at == sh("2026-10-09T17:00:00")
    assert answered.next_due_at == answered.resolution_due_at

    # When the priority goes up to HIGH at noon, the deadline is recomputed from the start
    # with HIGH's 8 hours, the pause still counted
    clock.at(sh("2026-10-08T12:00:00"))
    high = await done(client, "SetComplaintPriority", world.key(*SUPPORT), id=ticket["id"],
                      priority="HIGH", reason="Repeat caller")
    assert at(high["resolutionDueAt"]) == sh("2026-10-08T18:00:00")  # 3 h + 5 h + 4 h paused
    assert at(high["firstResponseDueAt"]) == sh("2026-10-08T10:00:00")  # already responded


async def test_calendar_hours_and_a_three_hour_pause(client, db, world, clock):
    txn = await record_txn(db, world)
    clock.at(sh("2026-11-20T20:00:00"))  # Friday evening: the calendar clock runs on
    ticket = await opened(client, world.key(*SUPPORT), txn=txn)
    assert at(ticket["firstResponseDueAt"]) == sh("2026-11-21T20:00:00")  # 24 h
    assert at(ticket["resolutionDueAt"]) == sh("2026-11-25T20:00:00")  # 120 h
    clock.at(sh("2026-11-21T08:00:00"))
    await done(client, "RequestComplaintInfo", world.key(*SUPPORT), id=ticket["id"],
               message="A photo please")
    clock.at(sh("2026-11-21T11:00:00"))
    async with db.unit_of_work(consumer(txn)) as uow:
        answered = await service.consumer_reply(uow, *ticket_key(ticket), message="Sent")
    assert answered.resolution_due_at == sh("2026-11-25T23:00:00")
    # A second pause adds up.
    clock.at(sh("2026-11-22T09:00:00"))
    await done(client, "RequestComplaintInfo", world.key(*SUPPORT), id=ticket["id"],
               message="And the receipt?")
    clock.at(sh("2026-11-22T10:30:00"))
    async with db.unit_of_work(consumer(txn)) as uow:
        again = await service.consumer_reply(uow, *ticket_key(ticket), message="Here")
    assert again.sla_paused_seconds == int(4.5 * 3600)
    assert again.resolution_due_at == sh("2026-11-26T00:30:00")


async def test_overdue_and_the_resolved_ticket_auto_close(client, db, world, clock):
    txn = await record_txn(db, world)
    clock.at(sh("2026-11-02T09:00:00"))
    ticket = await opened(client, world.key(*SUPPORT), txn=txn)
    assert ticket["overdue"] is True  # 2026-11-03 09:00 is long past in real time
    clock.at(sh("2026-11-02T10:00:00"))
    resolved = await done(client, "ResolveComplaint", world.key(*SUPPORT), id=ticket["id"],
                          resolution="EXPLAINED", note="Explained.")
    assert resolved["overdue"] is False and resolved["nextDueAt"] is None
    assert at(resolved["autoCloseAt"]) == sh("2026-11-09T10:00:00")  # 7 days by default
    # A consumer's message on a resolved ticket postpones the auto-close.
    clock.at(sh("2026-11-05T10:00:00"))
    async with db.unit_of_work(consumer(txn)) as uow:
        answered = await service.consumer_reply(uow, *ticket_key(ticket), message="Thanks!")
    assert answered.status == "RESOLVED"
    assert answered.auto_close_at == sh("2026-11-12T10:00:00")
    clock.advance(timedelta(hours=1))
    closed = await done(client, "CloseComplaint", world.key(*SUPPORT), id=ticket["id"])
    assert closed["autoCloseAt"] is None
