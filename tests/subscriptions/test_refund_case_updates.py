"""refundCaseUpdates over graphql-transport-ws against a real uvicorn server.

Events travel the real path: service commits → outbox → relay → Redis pub/sub →
the subscription, which reloads the case in the subscriber's scope.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import uvicorn
import websockets
from redis import Redis

from qrefund.app import create_app
from qrefund.graphql_schema import ids
from qrefund.jobs import runtime
from qrefund.jobs.relay import relay_pending
from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from qrefund.platform.refunds import service as refunds
from tests.refunds.helpers import record_txn, scope_of, submit

SUBSCRIBE = """subscription($merchants: [ID!], $after: String) {
  refundCaseUpdates(merchantIds: $merchants, after: $after) {
    cursor eventType refundCase { caseNumber status }
  }
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    """A real server in a thread with its own event loop and database engine."""
    port = _free_port()
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws="websockets-sansio",
        lifespan="on",
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        threading.Event().wait(0.02)
    yield f"ws://127.0.0.1:{port}/graphql"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
async def relay(settings: Settings, redis_conn: Redis) -> AsyncIterator[None]:
    job_db = Database(settings, pooled=False)
    runtime.reset()
    runtime.configure(settings=settings, db=job_db, redis=redis_conn)
    yield
    runtime.reset()
    await job_db.dispose()


async def _open(url: str, key: str) -> Any:
    ws = await websockets.connect(url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}})
    )
    ack = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert ack["type"] == "connection_ack", ack
    return ws


async def _subscribe(ws: Any, variables: dict[str, Any]) -> None:
    await ws.send(
        json.dumps(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": SUBSCRIBE, "variables": variables},
            }
        )
    )
    await asyncio.sleep(0.3)  # let the server subscribe to pub/sub before events flow


async def _next(ws: Any) -> dict[str, Any]:
    message = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert message["type"] == "next", message
    assert "errors" not in message["payload"], message
    update: dict[str, Any] = message["payload"]["data"]["refundCaseUpdates"]
    return update


async def test_live_updates_and_resume_from_cursor(server, relay, db, world):
    txn = await record_txn(db, world)
    case = await submit(db, world, txn)
    await relay_pending()  # the submission happened before anyone listened
    ws = await _open(server, world.key("a", "VIEWER"))
    await _subscribe(ws, {})
    agent = await scope_of(db, world, "a", "REFUND_AGENT")
    async with db.unit_of_work(agent) as uow:
        await refunds.start_review(uow, case.tenant_id, case.id)
    await relay_pending()
    first = await _next(ws)
    assert first["eventType"] == "refund_case.review_started"
    assert first["refundCase"] == {"caseNumber": case.case_number, "status": "UNDER_REVIEW"}
    await ws.close()

    # Changes while disconnected are replayed from the cursor, then live ones follow.
    async with db.unit_of_work(agent) as uow:
        await refunds.reject(uow, case.tenant_id, case.id, reason="not eligible")
    await relay_pending()
    ws = await _open(server, world.key("a", "VIEWER"))
    await _subscribe(ws, {"after": first["cursor"]})
    missed = await _next(ws)
    assert missed["eventType"] == "refund_case.rejected"
    assert missed["refundCase"]["status"] == "REJECTED"
    await ws.close()


async def test_agency_sees_its_merchants_and_names_one(server, relay, db, world):
    txn_b = await record_txn(db, world, "b")
    ws = await _open(server, world.key("agency", "ADMIN"))
    await _subscribe(ws, {"merchants": [ids.encode("Tenant", world.merchant_b)]})
    case = await submit(db, world, txn_b, who="b")
    await relay_pending()
    update = await _next(ws)
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
                    "query": SUBSCRIBE,
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
