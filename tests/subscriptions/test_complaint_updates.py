"""complaintUpdates over graphql-transport-ws against a real uvicorn server.

Events travel the real path: service commits → outbox → relay → Redis pub/sub → the
process's hub → the subscription, which reloads the ticket in the subscriber's scope
(its nested fields through the operation's loaders).
"""

from __future__ import annotations

import itertools
import json
import uuid
from typing import Any

from redis import Redis

from qrefund.graphql_schema import ids
from qrefund.jobs.relay import relay_pending
from qrefund.platform.complaints import intake, service
from qrefund.platform.complaints.models import ComplaintTicket
from qrefund.platform.complaints.vocabulary import (
    ComplaintCategory,
    ComplaintPriority,
    ComplaintResolution,
)
from qrefund.platform.db import Database
from qrefund.platform.outbox.feed import events_channel
from tests.refunds.helpers import record_txn, scope_of
from tests.subscriptions.support import (
    closed,
    eventually,
    http_ok,
    listening,
    open_socket,
    query,
    quiet,
    receive,
    send,
    subscribe,
    subscribers,
)
from tests.subscriptions.test_key_checks import REVOKE, _key_gid
from tests.support.world import World

UPDATES = """subscription($merchants: [ID!], $after: String) {
  complaintUpdates(merchantIds: $merchants, after: $after) {
    cursor eventType occurredAt
    complaintTicket { ticketNumber status assignee merchantId priorityReason
      messages { body internal } events { type note data }
      transaction { merchantOrderNo } }
  }
}"""
NOTE = "INTERNAL-NOTE-cashier-Wang-was-warned"
REASON = "INTERNAL-REASON-repeat-abuser"


async def _subscribe(url: str, key: str, **variables: Any) -> Any:
    ws = await open_socket(url, key)
    await subscribe(ws, variables, settle=0, query=UPDATES)
    return ws


async def _next(ws: Any) -> dict[str, Any]:
    """The next update; the raw message must not carry an internal text anywhere."""
    message = await receive(ws)
    assert message["type"] == "next", message
    assert "errors" not in message["payload"], message
    raw = json.dumps(message)
    assert NOTE not in raw and REASON not in raw, raw
    update: dict[str, Any] = message["payload"]["data"]["complaintUpdates"]
    return update


async def _refused(ws: Any, variables: dict[str, Any]) -> str:
    """Subscribe with ``variables``; the error code the subscription is refused with."""
    await send(ws, "1", UPDATES, variables)
    message = await receive(ws)
    assert message["type"] in ("error", "next"), message
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    code: str = errors[0]["extensions"]["code"]
    return code


async def _open(db: Database, world: World, who: str = "a") -> ComplaintTicket:
    txn = await record_txn(db, world, who)
    async with db.unit_of_work(await scope_of(db, world, who, "SUPPORT")) as uow:
        return await intake.open_ticket(uow, intake.OpenComplaint(
            category=ComplaintCategory.REFUND_DELAY, description="Still no refund.",
            transaction=(txn.tenant_id, txn.id)))


async def _work(db: Database, world: World, ticket: ComplaintTicket, *steps: str) -> None:
    """Work the ticket as merchant a's SUPPORT key, one unit per step."""
    support = await scope_of(db, world, "a", "SUPPORT")
    for step in steps:
        async with db.unit_of_work(support) as uow:
            if step == "assign":
                await service.assign(uow, *ticket.key, assignee="Li Na")
            elif step == "reply":
                await service.reply(uow, *ticket.key, message="We are on it.")
            elif step == "note":
                await service.reply(uow, *ticket.key, message=NOTE, internal=True)
            elif step == "priority":
                await service.set_priority(uow, *ticket.key, priority=ComplaintPriority.URGENT,
                                           reason=REASON)
            elif step == "resolve":
                await service.resolve(uow, *ticket.key, resolution=ComplaintResolution.EXPLAINED,
                                      note="The refund reached your bank on Monday.")
            else:
                raise AssertionError(step)


async def test_a_ticket_worked_to_resolution_arrives_in_order(
    server, relay, db, world, redis_conn
):
    # Given a merchant's SUPPORT key subscribed to its complaints
    ws = await _subscribe(server, world.key("a", "SUPPORT"))
    await listening(redis_conn, world.merchant_a)

    # When a ticket is opened, assigned, replied to and resolved
    ticket = await _open(db, world)
    await _work(db, world, ticket, "assign", "reply", "resolve")
    await relay_pending()

    # Then four updates arrive in that order, each with the ticket as it is now
    updates = [await _next(ws) for _ in range(4)]
    assert [u["eventType"] for u in updates] == [
        "complaint.opened", "complaint.assigned", "complaint.replied", "complaint.resolved"]
    now = updates[-1]["complaintTicket"]
    assert {u["complaintTicket"]["ticketNumber"] for u in updates} == {ticket.ticket_number}
    assert (now["status"], now["assignee"]) == ("RESOLVED", "Li Na")
    assert now["merchantId"] == ids.encode("Tenant", world.merchant_a)
    assert now["messages"] == [{"body": "We are on it.", "internal": False}]
    assert [e["type"] for e in now["events"]] == ["opened", "assigned", "replied", "resolved"]
    assert now["transaction"]["merchantOrderNo"]
    cursors = [u["cursor"] for u in updates]
    assert len(set(cursors)) == 4
    assert [u["occurredAt"] for u in updates] == sorted(u["occurredAt"] for u in updates)
    assert await quiet(ws)
    await ws.close()


async def test_resume_after_a_cursor_replays_what_was_missed_then_follows_live(
    server, relay, db, world, redis_conn
):
    # Given a subscriber that saw the opening, then went away
    ws = await _subscribe(server, world.key("a", "VIEWER"))
    await listening(redis_conn, world.merchant_a)
    ticket = await _open(db, world)
    await relay_pending()
    first = await _next(ws)
    assert first["eventType"] == "complaint.opened"
    await ws.close()

    # When the ticket moves on while nobody listens, and the client resumes from the cursor
    await _work(db, world, ticket, "assign", "reply")
    await relay_pending()
    ws = await _subscribe(server, world.key("a", "VIEWER"), after=first["cursor"])

    # Then the missed updates come first, once each, and live ones follow
    replayed = [(await _next(ws))["eventType"] for _ in range(2)]
    assert replayed == ["complaint.assigned", "complaint.replied"]
    assert await quiet(ws)
    await _work(db, world, ticket, "resolve")
    await relay_pending()
    live = await _next(ws)
    assert live["eventType"] == "complaint.resolved"
    assert live["complaintTicket"]["status"] == "RESOLVED"
    await ws.close()

    # And resuming from the last cursor has nothing more to replay
    ws = await _subscribe(server, world.key("a", "VIEWER"), after=live["cursor"])
    assert await quiet(ws)
    await ws.close()


async def test_internal_notes_are_never_pushed(server, relay, db, world, redis_conn):
    # Given subscribers who may read internal notes (SUPPORT) and who may not (VIEWER,
    # INTEGRATION)
    staff = await _subscribe(server, world.key("a", "SUPPORT"))
    readers = [await _subscribe(server, world.key("a", role))
               for role in ("VIEWER", "INTEGRATION")]
    await listening(redis_conn, world.merchant_a)

    # When a ticket gets an internal note and a priority override with a reason, then a
    # public reply
    ticket = await _open(db, world)
    await _work(db, world, ticket, "note", "priority", "reply")
    await relay_pending()

    # Then staff are told that a note was added, but no payload carries its text (_next
    # checks every raw message), not even the ticket's thread or timeline
    kinds = []
    for _ in range(4):
        update = await _next(staff)
        kinds.append(update["eventType"])
        shown = update["complaintTicket"]
        assert all(not m["internal"] for m in shown["messages"]), shown
        assert shown["priorityReason"] is None
    assert kinds == ["complaint.opened", "complaint.note_added", "complaint.priority_changed",
                     "complaint.replied"]
    # and the others never hear of the staff-only entries at all
    for ws in readers:
        assert [(await _next(ws))["eventType"] for _ in range(2)] == [
            "complaint.opened", "complaint.replied"]
        assert await quiet(ws, 0.3)
    # while a query on the same staff socket does show the note (the subscription's
    # context, not the role, kept it out)
    gid = ids.encode("ComplaintTicket", *ticket.key)
    found = await query(staff, '{ node(id: "' + gid + '") { ... on ComplaintTicket { '
                        'messages { body internal } priorityReason } } }')
    assert {"body": NOTE, "internal": True} in found["data"]["node"]["messages"]
    assert found["data"]["node"]["priorityReason"] == REASON
    for ws in (staff, *readers):
        await ws.close()


async def test_the_scope_decides_whose_events_arrive(server, relay, db, world, redis_conn):
    # Given an agency key (agencies hold ADMIN keys) following all its merchants, a
    # merchant key following itself, and the other agency
    agency = await _subscribe(server, world.key("agency"))
    merchant_a = await _subscribe(server, world.key("a", "SUPPORT"))
    stranger = await _subscribe(server, world.key("other_agency", "ADMIN"))
    for merchant in (world.merchant_a, world.merchant_b):
        await listening(redis_conn, merchant)

    # When tickets open at merchants A, B and the stand-alone C
    tickets = {who: await _open(db, world, who) for who in ("a", "b", "c")}
    await relay_pending()

    # Then the agency hears A and B, merchant A only itself, the other agency nothing
    heard = {(await _next(agency))["complaintTicket"]["merchantId"] for _ in range(2)}
    assert heard == {ids.encode("Tenant", world.merchant_a), ids.encode("Tenant", world.merchant_b)}
    own = await _next(merchant_a)
    assert own["complaintTicket"]["ticketNumber"] == tickets["a"].ticket_number
    for ws in (agency, merchant_a, stranger):
        assert await quiet(ws, 0.3)
        await ws.close()


async def test_an_agency_can_follow_one_named_merchant(server, relay, db, world, redis_conn):
    ws = await _subscribe(server, world.key("agency"),
                          merchants=[ids.encode("Tenant", world.merchant_b)])
    await listening(redis_conn, world.merchant_b)
    await _open(db, world, "a")
    ticket_b = await _open(db, world, "b")
    await relay_pending()
    update = await _next(ws)
    assert update["complaintTicket"]["ticketNumber"] == ticket_b.ticket_number
    assert await quiet(ws)
    await ws.close()


async def test_merchants_outside_the_scope_are_not_found(server, world):
    cases = [("a", world.merchant_b), ("a", world.merchant_c), ("agency", world.merchant_c),
             ("other_agency", world.merchant_a), ("a", uuid.uuid4())]
    for who, merchant in cases:
        ws = await open_socket(server, world.key(who, "SUPPORT" if len(who) == 1 else "ADMIN"))
        code = await _refused(ws, {"merchants": [ids.encode("Tenant", world.merchant_a),
                                                 ids.encode("Tenant", merchant)]})
        assert code == "NOT_FOUND", (who, merchant)
        await ws.close()


async def test_bad_arguments_are_refused_before_anything_streams(server, world):
    ws = await open_socket(server, world.key("operator"))
    assert await _refused(ws, {}) == "MERCHANT_REQUIRED"  # the operator names its merchants
    await ws.close()
    ws = await open_socket(server, world.key("a", "VIEWER"))
    assert await _refused(ws, {"after": "not-a-cursor"}) == "INVALID_CURSOR"
    await ws.close()


async def test_over_http_a_subscription_is_a_request_error(client, world):
    # Its resolver would never run over HTTP: refused before execution, not masked as
    # INTERNAL_ERROR (refundCaseUpdates too)
    documents = (UPDATES, "subscription { refundCaseUpdates { cursor } }")
    for document, accept in itertools.product(documents, (
            "application/json", "application/graphql-response+json", "multipart/mixed")):
        response = await client.post("/graphql", json={"query": document}, headers={
            "Authorization": f"Bearer {world.key('a')}", "Accept": accept})
        assert response.status_code in (200, 400), response.text
        body = response.json()
        assert [e["extensions"]["code"] for e in body["errors"]] == ["WEBSOCKET_REQUIRED"], body
        assert body.get("data") is None


async def test_revoking_the_key_closes_the_subscription(
    serve, relay, db, world, redis_conn: Redis
):
    # Given a merchant's ADMIN key with a running complaintUpdates subscription
    srv = serve()
    doomed = world.key("a", "ADMIN")
    ws = await _subscribe(srv.ws, doomed)
    await listening(redis_conn, world.merchant_a)

    # When its agency revokes it
    await http_ok(srv, REVOKE, world.key("agency", "ADMIN"), {"id": _key_gid(doomed)})

    # Then the socket closes with the reason, and the subscription's stream has stopped
    # (the server's hub left the merchant's events channel)
    code, reason, _seconds = await closed(ws)
    assert (code, reason) == (4403, "API key has been revoked")
    channel = events_channel(world.merchant_a)
    await eventually(lambda: subscribers(redis_conn, channel) == 0)
