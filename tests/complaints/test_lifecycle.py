"""The ticket's life end to end (open -> assign -> reply -> ask -> answer -> resolve ->
rate -> close, and reopen), its timeline and outbox events; the transition table."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from qrefund.platform.complaints import service
from qrefund.platform.complaints.lifecycle import TRANSITIONS, Action, next_status
from qrefund.platform.complaints.vocabulary import ComplaintStatus
from qrefund.platform.errors import InvalidState
from qrefund.platform.outbox.models import DomainEvent
from tests.complaints.api import done, node, opened, ticket_key
from tests.complaints.helpers import consumer
from tests.refunds.helpers import record_txn, scope_of
from tests.support.raw import unchecked

SUPPORT = ("a", "SUPPORT")


async def test_the_table_refuses_every_unlisted_move():
    for action in Action:
        for state in ComplaintStatus:
            if (action, state) in TRANSITIONS:
                assert next_status(action, state) == TRANSITIONS[(action, state)]
            else:
                with pytest.raises(InvalidState):
                    next_status(action, state)


async def test_closed_is_final_and_only_resolved_closes_or_reopens():
    closed = ComplaintStatus.CLOSED
    assert [a for (a, s) in TRANSITIONS if s == closed] == [Action.RATE]
    assert {s for (a, s) in TRANSITIONS if a in (Action.CLOSE, Action.REOPEN)} == {
        ComplaintStatus.RESOLVED}


async def test_a_ticket_from_opening_to_closing(client, db, world):
    txn = await record_txn(db, world)
    ticket = await opened(client, world.key("a", "INTEGRATION"), txn=txn, category="SERVICE",
                          contactEmail="li.wei@example.com", contactPhone="+86 138 0013 8000")
    assert ticket["status"] == "OPEN" and ticket["priority"] == "NORMAL"
    assert ticket["ticketNumber"].startswith("CP") and ticket["nextDueAt"]
    assert ticket["contactEmailMasked"] == "l***@example.com"
    assert ticket["contactPhoneMasked"] == "****8000"
    support = world.key(*SUPPORT)
    gid = ticket["id"]

    assigned = await done(client, "AssignComplaint", support, id=gid, assignee="Agent Zhou",
                          team="Desk East")
    assert (assigned["status"], assigned["assignee"], assigned["team"]) == (
        "IN_PROGRESS", "Agent Zhou", "Desk East")
    replied = await done(client, "ReplyToComplaint", support, id=gid,
                         message="Sorry to hear that, we are looking into it.")
    assert replied["firstRespondedAt"] and replied["nextDueAt"] == replied["resolutionDueAt"]
    await done(client, "ReplyToComplaint", world.key("a", "REFUND_AGENT"), id=gid,
               message="Cashier on shift: Wang.", internal=True)
    waiting = await done(client, "RequestComplaintInfo", support, id=gid,
                         message="Which store was it?")
    assert waiting["status"] == "WAITING_CUSTOMER" and waiting["nextDueAt"] is None
    assert waiting["waitingSince"]

    tenant_id, ticket_id = ticket_key(ticket)
    async with db.unit_of_work(consumer(txn)) as uow:
        answered = await service.consumer_reply(uow, tenant_id, ticket_id,
                                                message="The one on Nanjing Road.")
        assert answered.status == "IN_PROGRESS" and answered.waiting_since is None
    resolved = await done(client, "ResolveComplaint", support, id=gid, resolution="EXPLAINED",
                          note="We apologised to you and spoke to the cashier.")
    assert resolved["status"] == "RESOLVED" and resolved["resolution"] == "EXPLAINED"
    assert resolved["nextDueAt"] is None and resolved["autoCloseAt"]
    async with db.unit_of_work(consumer(txn)) as uow:
        rated = await service.rate(uow, tenant_id, ticket_id, rating=4, comment="Quick answer")
        assert rated.rating == 4
    closed = await done(client, "CloseComplaint", support, id=gid)
    assert closed["status"] == "CLOSED" and closed["closedAt"] and closed["autoCloseAt"] is None
    assert closed["rating"] == 4

    seen = await node(client, support, gid, "events { seq type fromStatus toStatus actor note } "
                      "messages { body internal authorKind }")
    steps = [(e["type"], e["fromStatus"], e["toStatus"]) for e in seen["events"]]
    assert steps == [
        ("opened", None, "OPEN"), ("assigned", "OPEN", "IN_PROGRESS"), ("replied", None, None),
        ("note_added", None, None), ("info_requested", "IN_PROGRESS", "WAITING_CUSTOMER"),
        ("customer_replied", "WAITING_CUSTOMER", "IN_PROGRESS"),
        ("resolved", "IN_PROGRESS", "RESOLVED"), ("rated", None, None),
        ("closed", "RESOLVED", "CLOSED"),
    ]
    assert [e["seq"] for e in seen["events"]] == list(range(1, 10))
    assert [(m["internal"], m["authorKind"]) for m in seen["messages"]] == [
        (False, "STAFF"), (True, "STAFF"), (False, "STAFF"), (False, "CONSUMER")]
    async with db.unit_of_work(await scope_of(db, world, "a")) as uow:
        outbox = (await unchecked(uow).execute(select(DomainEvent.type).where(
            DomainEvent.aggregate_id == ticket_id).order_by(DomainEvent.seq))).scalars().all()
    assert outbox == [f"complaint.{s[0]}" for s in steps]


async def test_reopen_restarts_the_resolution_clock(client, db, world):
    txn = await record_txn(db, world)
    support = world.key(*SUPPORT)
    ticket = await opened(client, support, txn=txn)
    resolved = await done(client, "ResolveComplaint", support, id=ticket["id"],
                          resolution="REJECTED", note="The refund was correct.")
    assert resolved["firstRespondedAt"]  # the resolution note answered the consumer
    reopened = await done(client, "ReopenComplaint", support, id=ticket["id"],
                          reason="The consumer sent the bank statement.")
    assert reopened["status"] == "IN_PROGRESS" and reopened["reopenCount"] == 1
    assert reopened["resolution"] is None and reopened["autoCloseAt"] is None
    assert datetime.fromisoformat(reopened["resolutionDueAt"]) > datetime.fromisoformat(
        ticket["resolutionDueAt"])
    assert reopened["nextDueAt"] == reopened["resolutionDueAt"]



async def test_jobs_read_tickets_in_batches_within_their_scope(client, db, world):
    mine = await opened(client, world.key(*SUPPORT), txn=await record_txn(db, world))
    theirs = await opened(client, world.key("b", "SUPPORT"), txn=await record_txn(db, world, "b"))
    keys = [ticket_key(mine), ticket_key(theirs)]
    for lock in (False, True):
        async with db.unit_of_work(await scope_of(db, world, "a")) as uow:
            found = await service.tickets_by_keys(uow, keys, lock=lock)
            assert list(found) == [ticket_key(mine)]  # the other merchant's is out of scope


@pytest.mark.postgres_only
async def test_a_locked_batch_read_refreshes_what_the_unit_holds(client, db, world):
    mine = await opened(client, world.key(*SUPPORT), txn=await record_txn(db, world))
    key = ticket_key(mine)
    async with db.unit_of_work(await scope_of(db, world, "a")) as uow:
        stale = (await service.tickets_by_keys(uow, [key]))[key]
        async with db.unit_of_work(await scope_of(db, world, *SUPPORT)) as other:
            await service.assign(other, *key, assignee="Agent Li")
        locked = await service.tickets_by_keys(uow, [key], lock=True)
        assert locked[key] is stale and stale.assignee == "Agent Li"
