"""Working a ticket: every mutation's refusals (wrong tenant, wrong role, wrong state,
bad input), each leaving nothing written; then assignment and priority changes."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from qrefund.graphql_schema import ids
from qrefund.platform.clock import utcnow
from qrefund.platform.complaints import service
from qrefund.platform.complaints.models import ComplaintTicket
from qrefund.platform.errors import DomainError
from tests.complaints.api import done, error_code, mutate, opened, ticket_key
from tests.complaints.helpers import counts
from tests.refunds.api import publish
from tests.refunds.helpers import record_txn, scope_of
from tests.support.graphql import gql
from tests.support.raw import unchecked

SUPPORT = ("a", "SUPPORT")
# Each mutation with input that would be accepted in the right state, by the right role.
CALLS = {
    "AssignComplaint": {"assignee": "Agent Zhou"},
    "ReplyToComplaint": {"message": "We are on it."},
    "RequestComplaintInfo": {"message": "Which store?"},
    "SetComplaintPriority": {"priority": "HIGH", "reason": "VIP"},
    "ResolveComplaint": {"resolution": "EXPLAINED", "note": "Explained the policy."},
    "CloseComplaint": {},
    "ReopenComplaint": {"reason": "Not happy"},
}
NEEDS_RESOLVED = {"CloseComplaint", "ReopenComplaint"}


async def new_ticket(client, db, world, *, resolved=False):
    ticket = await opened(client, world.key(*SUPPORT), txn=await record_txn(db, world))
    if resolved:
        ticket = await done(client, "ResolveComplaint", world.key(*SUPPORT), id=ticket["id"],
                            resolution="EXPLAINED", note="Explained the policy.")
    return ticket


async def refused(client, db, world, name, code, key=None, **input):
    before = await counts(db, world)
    payload = await mutate(client, name, key or world.key(*SUPPORT), **input)
    assert error_code(payload) == code, payload
    assert await counts(db, world) == before
    return payload


@pytest.mark.parametrize("name", sorted(CALLS))
async def test_another_tenants_ticket_is_not_found(client, db, world, name):
    ticket = await new_ticket(client, db, world, resolved=name in NEEDS_RESOLVED)
    for key in (world.key("b", "ADMIN"), world.key("other_agency"), world.key("c", "SUPPORT")):
        await refused(client, db, world, name, "NOT_FOUND", key=key, id=ticket["id"],
                      **CALLS[name])


@pytest.mark.parametrize("name", sorted(CALLS))
async def test_malformed_ids_or_ids_of_another_type(client, db, world, name):
    txn = await record_txn(db, world)
    for gid in ("bm9wZQ", ids.encode("Transaction", txn.tenant_id, txn.id)):
        await refused(client, db, world, name, "NOT_FOUND", id=gid, **CALLS[name])


@pytest.mark.parametrize("role", ["VIEWER", "INTEGRATION", "REFUND_AGENT"])
@pytest.mark.parametrize("name", sorted(CALLS))
async def test_only_support_and_admin_work_tickets(client, db, world, name, role):
    ticket = await new_ticket(client, db, world, resolved=name in NEEDS_RESOLVED)
    await refused(client, db, world, name, "FORBIDDEN", key=world.key("a", role),
                  id=ticket["id"], **CALLS[name])


@pytest.mark.parametrize("role", ["VIEWER", "INTEGRATION"])
async def test_readers_and_integrations_add_no_internal_notes(client, db, world, role):
    ticket = await new_ticket(client, db, world)
    await refused(client, db, world, "ReplyToComplaint", "FORBIDDEN", key=world.key("a", role),
                  id=ticket["id"], message="note", internal=True)


async def test_refund_agents_add_internal_notes(client, db, world):
    ticket = await new_ticket(client, db, world)
    noted = await done(client, "ReplyToComplaint", world.key("a", "REFUND_AGENT"),
                       id=ticket["id"], message="The case was paid on Monday.", internal=True)
    assert noted["status"] == "OPEN" and noted["firstRespondedAt"] is None  # no response


async def test_the_agency_and_admin_work_their_merchants_tickets(client, db, world):
    ticket = await new_ticket(client, db, world)
    assigned = await done(client, "AssignComplaint", world.key("agency"), id=ticket["id"],
                          assignee="Shared desk", assigneeKind="TEAM")
    assert (assigned["team"], assigned["assignee"], assigned["status"]) == (
        "Shared desk", None, "OPEN")
    await done(client, "ReplyToComplaint", world.key("a", "ADMIN"), id=ticket["id"],
               message="Hello")


# -- wrong state ---------------------------------------------------------------------------------


async def test_a_closed_ticket_takes_no_reply_note_or_step(client, db, world):
    ticket = await new_ticket(client, db, world, resolved=True)
    await done(client, "CloseComplaint", world.key(*SUPPORT), id=ticket["id"])
    for name in sorted(CALLS):
        await refused(client, db, world, name, "INVALID_STATE", id=ticket["id"], **CALLS[name])
    await refused(client, db, world, "ReplyToComplaint", "INVALID_STATE", id=ticket["id"],
                  message="note", internal=True)


async def test_steps_in_the_wrong_state(client, db, world):
    ticket = await new_ticket(client, db, world)
    for name in ("CloseComplaint", "ReopenComplaint"):
        await refused(client, db, world, name, "INVALID_STATE", id=ticket["id"], **CALLS[name])
    await done(client, "RequestComplaintInfo", world.key(*SUPPORT), id=ticket["id"],
               message="Which store?")
    await refused(client, db, world, "RequestComplaintInfo", "INVALID_STATE", id=ticket["id"],
                  message="Again?")
    resolved = await new_ticket(client, db, world, resolved=True)
    for name in ("AssignComplaint", "RequestComplaintInfo", "SetComplaintPriority",
                 "ResolveComplaint"):
        await refused(client, db, world, name, "INVALID_STATE", id=resolved["id"], **CALLS[name])


# -- bad input -----------------------------------------------------------------------------------


async def test_assign_to_an_empty_or_overlong_name(client, db, world):
    ticket = await new_ticket(client, db, world)
    for name, code in (("", "REQUIRED"), ("   ", "REQUIRED"), ("x" * 81, "TOO_LONG")):
        await refused(client, db, world, "AssignComplaint", code, id=ticket["id"], assignee=name)
    await refused(client, db, world, "AssignComplaint", "TOO_LONG", id=ticket["id"],
                  assignee="Zhou", team="t" * 81)


async def test_empty_messages_notes_and_reasons(client, db, world):
    ticket = await new_ticket(client, db, world)
    gid = ticket["id"]
    await refused(client, db, world, "ReplyToComplaint", "REQUIRED", id=gid, message=" ")
    await refused(client, db, world, "ReplyToComplaint", "TOO_LONG", id=gid, message="x" * 4001)
    await refused(client, db, world, "RequestComplaintInfo", "REQUIRED", id=gid, message="")
    await refused(client, db, world, "SetComplaintPriority", "REQUIRED", id=gid,
                  priority="HIGH", reason="")
    await refused(client, db, world, "ResolveComplaint", "REQUIRED", id=gid,
                  resolution="EXPLAINED", note=" ")


async def test_resolve_without_a_resolution_code(client, db, world):
    ticket = await new_ticket(client, db, world)
    before = await counts(db, world)
    body = await gql(client, """mutation($i: ResolveComplaintInput!) { resolveComplaint(input: $i)
        { complaintTicket { id } } }""", {"i": {"id": ticket["id"], "note": "done"}},
                     key=world.key(*SUPPORT))
    assert body["errors"] and body.get("data") is None
    tenant_id, ticket_id = ticket_key(ticket)
    with pytest.raises(DomainError) as refusal:
        async with db.unit_of_work(await scope_of(db, world, *SUPPORT)) as uow:
            await service.resolve(uow, tenant_id, ticket_id, resolution=None, note="done")
    assert refusal.value.code == "REQUIRED" and refusal.value.field == ["resolution"]
    assert await counts(db, world) == before


async def _resolved_days_ago(db, world, ticket, days):
    async with db.unit_of_work(await scope_of(db, world, "a")) as uow:
        await unchecked(uow).execute(update(ComplaintTicket).where(
            ComplaintTicket.id == ticket_key(ticket)[1]).values(
            resolved_at=utcnow() - timedelta(days=days)))


async def test_reopen_after_the_window(client, db, world):
    ticket = await new_ticket(client, db, world, resolved=True)
    await _resolved_days_ago(db, world, ticket, 15)  # the default window is 14 days
    await refused(client, db, world, "ReopenComplaint", "REOPEN_WINDOW_CLOSED", id=ticket["id"],
                  reason="Still not happy")
    await _resolved_days_ago(db, world, ticket, 13)
    reopened = await done(client, "ReopenComplaint", world.key(*SUPPORT), id=ticket["id"],
                          reason="Still not happy")
    assert reopened["status"] == "IN_PROGRESS"


async def test_the_reopen_window_is_the_stamped_policy_versions(client, db, world):
    await publish(client, world.key("a"), complaintReopenWindowDays=30)
    ticket = await new_ticket(client, db, world, resolved=True)
    await publish(client, world.key("a"), complaintReopenWindowDays=0)  # later versions
    await _resolved_days_ago(db, world, ticket, 20)
    await done(client, "ReopenComplaint", world.key(*SUPPORT), id=ticket["id"], reason="again")
    closed_window = await new_ticket(client, db, world, resolved=True)
    await refused(client, db, world, "ReopenComplaint", "REOPEN_WINDOW_CLOSED",
                  id=closed_window["id"], reason="again")


# -- assignment and priority ---------------------------------------------------------------------


async def test_assignment_to_an_agent_starts_the_work(client, db, world):
    ticket = await new_ticket(client, db, world)
    queued = await done(client, "AssignComplaint", world.key(*SUPPORT), id=ticket["id"],
                        assignee="Refund desk", assigneeKind="TEAM")
    assert queued["status"] == "OPEN"
    taken = await done(client, "AssignComplaint", world.key(*SUPPORT), id=ticket["id"],
                       assignee="Agent Zhou")
    assert (taken["status"], taken["assignee"], taken["team"]) == (
        "IN_PROGRESS", "Agent Zhou", "Refund desk")


async def test_a_priority_override_moves_the_deadlines_and_keeps_its_reason_internal(
        client, db, world):
    ticket = await new_ticket(client, db, world)
    created = datetime.fromisoformat(ticket["createdAt"])
    urgent = await done(client, "SetComplaintPriority", world.key(*SUPPORT), id=ticket["id"],
                        priority="URGENT", reason="Journalist on the phone")
    assert urgent["priority"] == "URGENT"
    assert datetime.fromisoformat(urgent["firstResponseDueAt"]) == created + timedelta(hours=2)
    assert datetime.fromisoformat(urgent["resolutionDueAt"]) == created + timedelta(hours=24)
    assert urgent["nextDueAt"] == urgent["firstResponseDueAt"]
    viewer = await gql(client, """query($id: ID!) { node(id: $id) { ... on ComplaintTicket {
        priority priorityReason events { type note } } } }""", {"id": ticket["id"]},
                       key=world.key("a", "VIEWER"))
    node = viewer["data"]["node"]
    assert node["priority"] == "URGENT" and node["priorityReason"] is None
    assert [e["type"] for e in node["events"]] == ["opened"]
    assert "Journalist" not in str(viewer)
