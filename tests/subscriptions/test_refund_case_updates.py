"""refundCaseUpdates over graphql-transport-ws against a real uvicorn server.

Events travel the real path: service commits → outbox → relay → Redis pub/sub →
the process's hub → the subscription, which reloads the case in the subscriber's
scope.
"""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets
from redis import Redis

from qrefund.graphql_schema import ids
from qrefund.jobs.relay import dispatch, relay_pending, to_message
from qrefund.platform.refunds import service as refunds
from tests.refunds.helpers import record_txn, scope_of, submit
from tests.subscriptions.support import (
    UPDATES,
    listening,
    next_update,
    open_socket,
    query,
    quiet,
    subscribe,
)

_open = open_socket


async def test_live_updates_and_resume_from_cursor(server, relay, db, world, redis_conn):
    txn = await record_txn(db, world)
    case = await submit(db, world, txn)
    await relay_pending()  # the submission happened before anyone listened
    ws = await _open(server, world.key("a", "VIEWER"))
    await subscribe(ws, {}, settle=0)
    await listening(redis_conn, world.merchant_a)
    agent = await scope_of(db, world, "a", "REFUND_AGENT")
    async with db.unit_of_work(agent) as uow:
        await refunds.start_review(uow, case.tenant_id, case.id)
    await relay_pending()
    first = await next_update(ws)
    assert first["eventType"] == "refund_case.review_started"
    assert first["refundCase"] == {"caseNumber": case.case_number, "status": "UNDER_REVIEW"}
    await ws.close()

    # Changes while disconnected are replayed from the cursor, then live ones follow.
    async with db.unit_of_work(agent) as uow:
        await refunds.reject(uow, case.tenant_id, case.id, reason="not eligible")
    await relay_pending()
    ws = await _open(server, world.key("a", "VIEWER"))
    await subscribe(ws, {"after": first["cursor"]})
    missed = await next_update(ws)
    assert missed["eventType"] == "refund_case.rejected"
    assert missed["refundCase"]["status"] == "REJECTED"
    await ws.close()


async def test_no_repeats_at_the_seam_between_replay_and_live(
    server, relay, db, world, redis_conn
):
    # Given a cursor, and two events committed after it but not yet published
    txn = await record_txn(db, world)
    ws = await _open(server, world.key("a", "VIEWER"))
    await subscribe(ws, {}, settle=0)
    await listening(redis_conn, world.merchant_a)
    case = await submit(db, world, txn)
    await relay_pending()
    cursor = (await next_update(ws))["cursor"]
    await ws.close()
    agent = await scope_of(db, world, "a", "REFUND_AGENT")
    async with db.unit_of_work(agent) as uow:
        await refunds.start_review(uow, case.tenant_id, case.id)
    async with db.unit_of_work(agent) as uow:
        await refunds.request_info(uow, case.tenant_id, case.id, message="receipt photo?")

    # When the client resumes (the table replays both) and then the relay publishes them
    ws = await _open(server, world.key("a", "VIEWER"))
    await subscribe(ws, {"after": cursor})
    replayed = [(await next_update(ws))["eventType"] for _ in range(2)]
    await relay_pending()

    # Then each arrives once, and the next live event follows
    assert replayed == ["refund_case.review_started", "refund_case.info_requested"]
    assert await quiet(ws)
    async with db.unit_of_work(agent) as uow:
        await refunds.cancel(uow, case.tenant_id, case.id, reason="withdrawn")
    await relay_pending()
    assert (await next_update(ws))["eventType"] == "refund_case.cancelled"
    await ws.close()


async def test_an_event_published_out_of_order_is_not_lost(
    server, relay, db, world, redis_conn: Redis
):
    # Given a live subscriber, and two events of one tenant committed in order
    txn = await record_txn(db, world)
    ws = await _open(server, world.key("a", "VIEWER"))
    await subscribe(ws, {}, settle=0)
    await listening(redis_conn, world.merchant_a)
    case = await submit(db, world, txn)
    agent = await scope_of(db, world, "a", "REFUND_AGENT")
    async with db.unit_of_work(agent) as uow:
        await refunds.start_review(uow, case.tenant_id, case.id)
        later = [e for e in uow.events if e.aggregate_type == "refund_case"]

    # When only the later one is published (relays on two workers raced)
    await asyncio.to_thread(dispatch, redis_conn, [to_message(e) for e in later])

    # Then the earlier one still arrives first (from the table), and neither twice
    assert (await next_update(ws))["eventType"] == "refund_case.submitted"
    assert (await next_update(ws))["eventType"] == "refund_case.review_started"
    await relay_pending()
    assert await quiet(ws)
    await ws.close()


async def test_agency_sees_its_merchants_and_names_one(server, relay, db, world, redis_conn):
    txn_b = await record_txn(db, world, "b")
    ws = await _open(server, world.key("agency", "ADMIN"))
    await subscribe(ws, {"merchants": [ids.encode("Tenant", world.merchant_b)]}, settle=0)
    await listening(redis_conn, world.merchant_b)
    case = await submit(db, world, txn_b, who="b")
    await relay_pending()
    update = await next_update(ws)
    assert update["eventType"] == "refund_case.submitted"
    assert update["refundCase"]["caseNumber"] == case.case_number
    await ws.close()


async def test_other_tenants_merchant_is_not_found(server, relay, world):
    ws = await _open(server, world.key("a", "VIEWER"))
    await ws.send(
        json.dumps(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {
                    "query": UPDATES,
                    "variables": {"merchants": [ids.encode("Tenant", world.merchant_c)]},
                },
            }
        )
    )
    message = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert message["type"] in ("error", "next")
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "NOT_FOUND"
    await ws.close()


async def test_bad_key_is_rejected(server, world):
    ws = await websockets.connect(server, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": "Bearer qrk_nope"}})
    )
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


async def test_anonymous_connection_is_rejected(server, world):
    ws = await websockets.connect(server, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


async def test_queries_and_mutations_run_on_the_socket(server, world):
    ws = await _open(server, world.key("a", "VIEWER"))
    assert await query(ws, "{ viewer { role } }") == {"data": {"viewer": {"role": "VIEWER"}}}
    await ws.close()
