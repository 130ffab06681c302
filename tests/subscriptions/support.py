"""A graphql-transport-ws client for the tests, and what they measure on Redis."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import websockets
from redis import Redis
from starlette.applications import Starlette

from qrefund.platform.outbox.feed import events_channel
from qrefund.platform.outbox.hub import default_name

UPDATES = """subscription($merchants: [ID!], $after: String) {
  refundCaseUpdates(merchantIds: $merchants, after: $after) {
    cursor eventType refundCase { caseNumber status }
  }
}"""
VIEWER = "{ viewer { role } }"


@dataclass
class Server:
    ws: str
    http: str
    app: Starlette


async def open_socket(url: str, key: str) -> Any:
    ws = await websockets.connect(url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}})
    )
    ack = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert ack["type"] == "connection_ack", ack
    return ws


async def send(ws: Any, op_id: str, query: str, variables: dict[str, Any] | None = None) -> None:
    payload = {"query": query, "variables": variables or {}}
    await ws.send(json.dumps({"id": op_id, "type": "subscribe", "payload": payload}))


async def subscribe(ws: Any, variables: dict[str, Any] | None = None, op_id: str = "1",
                    settle: float = 0.3, query: str = UPDATES) -> None:
    await send(ws, op_id, query, variables)
    await asyncio.sleep(settle)  # let the server subscribe to pub/sub before events flow


async def receive(ws: Any, within: float = 10) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), within))
    return message


async def next_update(ws: Any, op_id: str | None = None, within: float = 10) -> dict[str, Any]:
    message = await receive(ws, within)
    assert message["type"] == "next", message
    assert op_id is None or message["id"] == op_id, message
    assert "errors" not in message["payload"], message
    update: dict[str, Any] = message["payload"]["data"]["refundCaseUpdates"]
    return update


async def query(ws: Any, text: str, op_id: str = "q") -> dict[str, Any]:
    """Run a query or mutation on the socket; the payload of its ``next``."""
    await send(ws, op_id, text)
    message = await receive(ws)
    assert message["type"] == "next" and message["id"] == op_id, message
    assert (await receive(ws)) == {"id": op_id, "type": "complete"}
    payload: dict[str, Any] = message["payload"]
    return payload


async def quiet(ws: Any, seconds: float = 0.5) -> bool:
    """Nothing arrives on the socket for ``seconds``."""
    try:
        message = await asyncio.wait_for(ws.recv(), seconds)
    except TimeoutError:
        return True
    raise AssertionError(f"unexpected message: {message}")


async def closed(ws: Any, within: float = 5) -> tuple[int, str, float]:
    """Wait for the server to close the socket: (code, reason, seconds it took)."""
    started = time.monotonic()
    try:
        while True:
            await asyncio.wait_for(ws.recv(), within)
    except websockets.ConnectionClosed as exc:
        assert exc.rcvd is not None, "the server did not send a close frame"
        return exc.rcvd.code, exc.rcvd.reason, time.monotonic() - started


async def http_ok(server: Server, text: str, key: str,
                  variables: dict[str, Any] | None = None) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        response = await client.post(server.http, json={"query": text, "variables": variables},
                                     headers={"Authorization": f"Bearer {key}"})
    body: dict[str, Any] = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def hub_connections(redis: Redis, name: str | None = None) -> int:
    """Redis clients named like this process's hub connection (CLIENT LIST is server-wide)."""
    wanted = name or default_name()
    return sum(1 for c in redis.client_list() if c.get("name") == wanted)


def subscribers(redis: Redis, channel: str) -> int:
    """Redis connections subscribed to ``channel`` (PUBSUB NUMSUB)."""
    return int(dict(redis.pubsub_numsub(channel)).get(channel.encode(), 0))


async def eventually(check: Callable[[], bool], within: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def listening(redis: Redis, tenant_id: uuid.UUID) -> None:
    """Wait until a server's hub has subscribed to the tenant's events.

    A stream reads its starting position before it subscribes, so once the first
    subscription on a channel shows in Redis, it misses nothing committed later
    (however slowly the machine runs; a fixed pause would be a guess).
    """
    channel = events_channel(tenant_id)
    await eventually(lambda: subscribers(redis, channel) >= 1)
