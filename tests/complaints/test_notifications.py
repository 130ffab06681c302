"""What a complaint's consumer is told, end to end: the outbox relay and the notification
jobs on real workers, messages stored as rendered, by the consumer's channels."""

from __future__ import annotations

from datetime import timedelta

from qrefund.jobs.complaints import complaint_auto_close
from qrefund.jobs.registry import QUEUE_NOTIFICATIONS, QUEUE_RELAY
from qrefund.platform.complaints import service
from qrefund.platform.notifications import service as notifications
from qrefund.platform.notifications.models import Notification
from qrefund.platform.outbox.models import DomainEvent
from tests.complaints.api import done, opened, ticket_key
from tests.complaints.helpers import consumer, rows
from tests.refunds.helpers import record_txn, scope_of

SENDING = (QUEUE_RELAY, QUEUE_NOTIFICATIONS)
EMAIL, PHONE = "li.wei@example.com", "+86 138-0013-8000"


async def _messages(db, world, ticket_id):
    """The ticket's messages in the order of their events (jobs may run in any order)."""
    found = await rows(db, world, Notification, Notification.subject_id == ticket_id)
    seq = {e.id: e.seq for e in await rows(db, world, DomainEvent,
                                           DomainEvent.aggregate_id == ticket_id)}
    return sorted(found, key=lambda n: (seq[n.event_id], n.channel))


async def test_the_consumer_hears_of_every_public_step_by_their_channels(
        client, db, world, clock, workers):
    support = world.key("a", "SUPPORT")
    txn = await record_txn(db, world)
    ticket = await opened(client, support, txn=txn, contactEmail=EMAIL, contactPhone=PHONE)
    key = ticket_key(ticket)
    await done(client, "ReplyToComplaint", support, id=ticket["id"], message="Checking the till.")
    await done(client, "RequestComplaintInfo", support, id=ticket["id"],
               message="Which day was it?")
    async with db.unit_of_work(consumer(txn)) as uow:
        await service.consumer_reply(uow, *key, message="Monday")
    await done(client, "ResolveComplaint", support, id=ticket["id"], resolution="GOODWILL",
               note="A voucher is on its way.")
    clock.advance(timedelta(hours=1))
    await done(client, "ReopenComplaint", support, id=ticket["id"], reason="No voucher came.")
    await done(client, "ResolveComplaint", support, id=ticket["id"], resolution="GOODWILL",
               note="The voucher was sent again.")
    await workers.drain(SENDING)
    # The auto-close job closes it a week later; the consumer is told that too.
    result = await complaint_auto_close((clock.now + timedelta(days=8)).isoformat())
    assert result["closed"] == 1
    await workers.drain(SENDING)

    sent = await _messages(db, world, key[1])
    kinds = [n.event_type.removeprefix("complaint.") for n in sent if n.channel == "EMAIL"]
    assert kinds == ["opened", "replied", "info_requested", "resolved", "reopened", "resolved",
                     "closed"]
    assert [n.event_type for n in sent if n.channel == "SMS"] == [
        n.event_type for n in sent if n.channel == "EMAIL"]
    assert {n.status for n in sent} == {"SENT"}
    # Stored masked; the full address is only on the encrypted ticket.
    assert not any(EMAIL in n.recipient_masked or "13800138000" in n.recipient_masked
                   for n in sent)
    by_kind = {(n.event_type, n.channel): n for n in sent}
    assert "Checking the till." in by_kind[("complaint.replied", "SMS")].body
    assert "Which day was it?" in by_kind[("complaint.info_requested", "EMAIL")].body
    resolved = [n for n in sent if n.event_type == "complaint.resolved" and n.channel == "EMAIL"]
    assert "A voucher is on its way." in resolved[0].body
    assert "The voucher was sent again." in resolved[1].body
    assert ticket["ticketNumber"] in by_kind[("complaint.opened", "EMAIL")].subject
    assert "/r/" in by_kind[("complaint.closed", "EMAIL")].body  # the receipt page link
    # Staff read them as the ticket's messages.
    async with db.unit_of_work(await scope_of(db, world, "a", "VIEWER"), readonly=True) as uow:
        page = await notifications.list_for_subject(uow, "complaint_ticket", *key, first=50,
                                                    after=None)
    assert len(page.items) == len(sent)


async def test_no_contact_no_message_and_staff_only_steps_tell_nobody(
        client, db, world, workers):
    support = world.key("a", "SUPPORT")
    silent = await opened(client, support, txn=await record_txn(db, world))
    await done(client, "ReplyToComplaint", support, id=silent["id"], message="Hello")
    told = await opened(client, support, txn=await record_txn(db, world), contactEmail=EMAIL)
    await done(client, "AssignComplaint", support, id=told["id"], assignee="li.na")
    await done(client, "ReplyToComplaint", world.key("a", "REFUND_AGENT"), id=told["id"],
               message="note for staff", internal=True)
    await done(client, "SetComplaintPriority", support, id=told["id"], priority="HIGH",
               reason="VIP")
    await workers.drain(SENDING)
    assert await _messages(db, world, ticket_key(silent)[1]) == []
    sent = await _messages(db, world, ticket_key(told)[1])
    assert [(n.event_type, n.channel) for n in sent] == [("complaint.opened", "EMAIL")]
