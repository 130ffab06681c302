"""An internal note never leaves staff views: not in outbox snapshots, webhook bodies
(delivered for real), the timeline of non-staff readers, GraphQL for VIEWER or
INTEGRATION keys, nor what a consumer's receipt scope can read."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from qrefund.jobs.relay import to_message
from qrefund.platform.complaints import queries, service
from qrefund.platform.complaints.models import ComplaintEvent
from qrefund.platform.complaints.queries import TicketFilter
from qrefund.platform.errors import Forbidden, NotFound
from qrefund.platform.notifications.models import Notification
from qrefund.platform.outbox.models import DomainEvent
from qrefund.platform.webhooks.models import WebhookDelivery
from tests.complaints.api import done, node, opened, ticket_key, txn_gid
from tests.complaints.helpers import consumer, rows
from tests.refunds.helpers import record_txn, scope_of
from tests.support.graphql import ok
from tests.support.raw import unchecked
from tests.webhooks.api import created

NOTE = "INTERNAL-NOTE-cashier-Wang-was-warned"
REASON = "INTERNAL-REASON-repeat-abuser"
FIELDS = ("priorityReason messages { body internal } events { type note data } "
          "description resolutionNote")


async def _worked_ticket(client, db, world):
    """A ticket with public replies, an internal note and an internal priority reason."""
    txn = await record_txn(db, world)
    support = world.key("a", "SUPPORT")
    ticket = await opened(client, support, txn=txn, contactEmail="li.wei@example.com",
                          contactPhone="+86 138-0013-8000")
    await done(client, "ReplyToComplaint", support, id=ticket["id"], message="We are on it.")
    await done(client, "ReplyToComplaint", world.key("a", "REFUND_AGENT"), id=ticket["id"],
               message=NOTE, internal=True)
    await done(client, "SetComplaintPriority", support, id=ticket["id"], priority="HIGH",
               reason=REASON)
    await done(client, "RequestComplaintInfo", support, id=ticket["id"], message="Which store?")
    async with db.unit_of_work(consumer(txn)) as uow:
        await service.consumer_reply(uow, *ticket_key(ticket), message="Nanjing Road")
    await done(client, "ResolveComplaint", support, id=ticket["id"], resolution="EXPLAINED",
               note="We apologise.")
    return txn, ticket


def _secret_in(value: object) -> bool:
    text = json.dumps(value, default=str)
    return NOTE in text or REASON in text


async def test_no_outbox_snapshot_or_webhook_body_carries_a_note(
        client, db, world, jobs, receiver):
    await created(client, world.key("a"), receiver.url, ["complaint.*"])
    _txn, ticket = await _worked_ticket(client, db, world)
    events = sorted(await rows(db, world, DomainEvent,
                               DomainEvent.aggregate_id == ticket_key(ticket)[1]),
                    key=lambda e: e.seq)  # the tenant's sequence: the order they happened in
    assert [e.type for e in events] == [
        "complaint.opened", "complaint.replied", "complaint.note_added",
        "complaint.priority_changed", "complaint.info_requested", "complaint.customer_replied",
        "complaint.resolved"]
    assert not any(_secret_in(e.payload) for e in events)
    # The webhooks deliver every one of them, for real, and none carries the note.
    for event in events:
        for spec in jobs.handle(to_message(event), "qrefund.jobs.webhooks"):
            jobs.enqueue(spec, to_message(event))
    await jobs.run()
    assert len(receiver.requests) == len(events)
    bodies = [json.loads(r.body) for r in receiver.requests]
    assert {b["type"] for b in bodies} == {e.type for e in events}
    assert not any(NOTE in r.body.decode() or REASON in r.body.decode()
                   for r in receiver.requests)
    deliveries = await rows(db, world, WebhookDelivery)
    assert len(deliveries) == len(events) and not any(_secret_in(d.payload) for d in deliveries)


async def test_no_consumer_notification_carries_a_note(client, db, world, jobs):
    """The notification jobs run (real worker) for every event of a worked ticket: the
    consumer hears of the public steps, by e-mail and SMS, and never of the note."""
    _txn, ticket = await _worked_ticket(client, db, world)
    events = await rows(db, world, DomainEvent,
                        DomainEvent.aggregate_id == ticket_key(ticket)[1])
    for event in events:
        for spec in jobs.handle(to_message(event), "qrefund.jobs.notifications"):
            jobs.enqueue(spec, to_message(event))
    await jobs.run()
    assert jobs.failed_job_ids() == []
    sent = await rows(db, world, Notification, Notification.subject_id == ticket_key(ticket)[1])
    assert sorted({n.event_type for n in sent}) == [
        "complaint.info_requested", "complaint.opened", "complaint.replied",
        "complaint.resolved"]
    assert {n.channel for n in sent} == {"EMAIL", "SMS"} and len(sent) == 8
    assert {n.status for n in sent} == {"SENT"}
    assert not any(_secret_in([n.subject, n.body]) for n in sent)
    replied = [n.body for n in sent if n.event_type == "complaint.replied"]
    assert all("We are on it." in body for body in replied)


async def test_the_staff_only_timeline_entries_hold_no_note_text(client, db, world):
    await _worked_ticket(client, db, world)
    entries = await rows(db, world, ComplaintEvent)
    noted = [e for e in entries if e.type == "note_added"]
    assert len(noted) == 1 and noted[0].internal and noted[0].note is None
    assert NOTE not in json.dumps([e.data for e in entries])


@pytest.mark.parametrize("role", ["VIEWER", "INTEGRATION"])
async def test_readers_without_the_note_permission_never_see_it(client, db, world, role):
    txn, ticket = await _worked_ticket(client, db, world)
    key = world.key("a", role)
    seen = await node(client, key, ticket["id"], FIELDS)
    assert seen is not None and not _secret_in(seen)
    assert [m["internal"] for m in seen["messages"]] == [False, False, False]
    assert "note_added" not in [e["type"] for e in seen["events"]]
    assert "priority_changed" not in [e["type"] for e in seen["events"]]
    listed = await _listed(client, key)
    assert listed and not _secret_in(listed)
    via_payment = await ok(client, "query($id: ID!) { node(id: $id) { ... on Transaction { "
                           "complaints { " + FIELDS + " } } } }", {"id": txn_gid(txn)}, key=key)
    assert via_payment["node"]["complaints"] and not _secret_in(via_payment)


async def _listed(client, key):
    data = await ok(client, "{ complaintTickets { edges { node { " + FIELDS + " } } } }",
                    key=key)
    return data["complaintTickets"]["edges"]


@pytest.mark.parametrize("role", ["SUPPORT", "REFUND_AGENT", "ADMIN"])
async def test_staff_who_work_tickets_see_the_note(client, db, world, role):
    _txn, ticket = await _worked_ticket(client, db, world)
    seen = await node(client, world.key("a", role), ticket["id"], FIELDS)
    assert NOTE in [m["body"] for m in seen["messages"]]
    assert seen["priorityReason"] == REASON


async def test_the_consumer_reads_its_ticket_without_notes(client, db, world):
    txn, ticket = await _worked_ticket(client, db, world)
    other_txn = await record_txn(db, world)
    other = await opened(client, world.key("a", "SUPPORT"), txn=other_txn)
    key = ticket_key(ticket)
    async with db.unit_of_work(consumer(txn), readonly=True) as uow:
        assert (await service.read_ticket(uow, *key)).id == key[1]
        messages = (await queries.messages_by_ticket(uow, [key]))[key]
        timeline = (await queries.events_by_ticket(uow, [key]))[key]
        by_payment = await queries.tickets_by_transaction(uow, [(txn.tenant_id, txn.id)])
        assert [t.id for t in by_payment[(txn.tenant_id, txn.id)]] == [key[1]]
        assert [m.author_kind for m in messages] == ["STAFF", "STAFF", "CONSUMER"]
        assert not any(m.internal or NOTE in m.body for m in messages)
        assert not any(e.internal for e in timeline)
        assert not _secret_in([e.data for e in timeline] + [e.note for e in timeline])
        # Another payment's ticket of the same merchant is out of its reach.
        assert await queries.tickets_by_id(uow, [ticket_key(other)]) == {}
        assert await queries.messages_by_ticket(uow, [ticket_key(other)]) == {}
    with pytest.raises(NotFound):
        async with db.unit_of_work(consumer(txn), readonly=True) as uow:
            await service.read_ticket(uow, *ticket_key(other))


async def test_a_consumer_cannot_list_or_work_tickets(db, world, client):
    txn, ticket = await _worked_ticket(client, db, world)
    async with db.unit_of_work(consumer(txn), readonly=True) as uow:
        with pytest.raises(Forbidden):
            await queries.list_page(uow, TicketFilter(), first=10)
    for step in (lambda uow: service.reply(uow, *ticket_key(ticket), message="hi"),
                 lambda uow: service.reply(uow, *ticket_key(ticket), message="x", internal=True),
                 lambda uow: service.close(uow, *ticket_key(ticket))):
        with pytest.raises(Forbidden):
            async with db.unit_of_work(consumer(txn)) as uow:
                await step(uow)
    async with db.unit_of_work(await scope_of(db, world, "a"), readonly=True) as uow:
        assert (await unchecked_count(uow)) == 7


async def unchecked_count(uow):

    return (await unchecked(uow).execute(select(func.count()).select_from(ComplaintEvent))
            ).scalar()
