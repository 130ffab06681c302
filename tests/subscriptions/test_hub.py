"""The process's one pub/sub connection, on the real test Redis.

Hub tests use their own client name and channels (``CLIENT LIST`` and
``PUBSUB NUMSUB`` are server-wide; other test runs share the server).
"""

from __future__ import annotations

import asyncio
import uuid
from contextlib import aclosing
from typing import Any

from redis import Redis

from qrefund.graphql_schema.websocket import redis_connector
from qrefund.jobs import registry
from qrefund.jobs.relay import relay_pending
from qrefund.platform.outbox import stream
from qrefund.platform.outbox.feed import events_channel, head
from qrefund.platform.outbox.hub import Hub
from tests.refunds.helpers import record_txn, scope_of, submit
from tests.subscriptions.support import (
    eventually,
    hub_connections,
    listening,
    open_socket,
    receive,
    send,
    subscribers,
)


class Recorder:
    """A hub listener that writes down what it hears."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.losses: list[str] = []

    def deliver(self, channel: str, data: bytes) -> None:
        self.messages.append((channel, data))

    def lost(self, channel: str) -> None:
        self.losses.append(channel)


def _hub(settings: Any, connect: Any = None) -> Hub:
    return Hub(connect or redis_connector(settings), name=f"qrefund-hub-test-{uuid.uuid4().hex}")


def _channels(n: int) -> list[str]:
    run = uuid.uuid4().hex
    return [f"qrefund:test:{run}:{i}" for i in range(n)]


def _kill(redis: Redis, name: str) -> None:
    (client,) = [c for c in redis.client_list() if c.get("name") == name]
    redis.client_kill_filter(_id=client["id"])


def test_streams_listen_where_the_relay_publishes():
    tenant_id = uuid.uuid4()
    assert events_channel(tenant_id) == registry.events_channel(tenant_id)


async def test_one_connection_serves_every_listener(settings, redis_conn):
    # Given three listeners on two channels
    hub = _hub(settings)
    x, y = _channels(2)
    a, b, c = Recorder(), Recorder(), Recorder()
    await hub.subscribe([x], a)
    await hub.subscribe([x, y], b)
    await hub.subscribe([y], c)

    # Then Redis sees one connection, subscribed once to each channel
    assert hub_connections(redis_conn, hub.name) == 1
    assert (subscribers(redis_conn, x), subscribers(redis_conn, y)) == (1, 1)

    # When a message is published, every listener of its channel gets it
    redis_conn.publish(x, "hello")
    await eventually(lambda: bool(a.messages and b.messages))
    assert a.messages == b.messages == [(x, b"hello")]
    assert c.messages == []

    # When listeners leave, the hub unsubscribes a channel with its last listener only
    await hub.unsubscribe([x], a)
    assert subscribers(redis_conn, x) == 1
    await hub.unsubscribe([x, y], b)
    await eventually(lambda: subscribers(redis_conn, x) == 0)
    assert subscribers(redis_conn, y) == 1

    # And closing it closes its connection
    await hub.close()
    await eventually(lambda: hub_connections(redis_conn, hub.name) == 0)


async def test_after_losing_redis_the_hub_reconnects_and_says_so(settings, redis_conn):
    # Given a listener on a channel
    hub = _hub(settings)
    (channel,) = _channels(1)
    listener = Recorder()
    await hub.subscribe([channel], listener)

    # When Redis drops the hub's connection
    _kill(redis_conn, hub.name)

    # Then the listener hears that messages may have been lost, and gets new ones
    await eventually(lambda: listener.losses == [channel])
    redis_conn.publish(channel, "after")
    await eventually(lambda: listener.messages == [(channel, b"after")])
    assert hub_connections(redis_conn, hub.name) == 1
    await hub.close()


async def test_events_published_while_redis_is_unreachable_reach_the_stream(
    settings, relay, db, world, redis_conn
):
    # Given a stream following merchant A, through a hub that can be cut off Redis
    reachable = True
    real = redis_connector(settings)

    def connect(name: str) -> Any:
        from redis.asyncio import Redis as AsyncRedis

        if reachable:
            return real(name)
        return AsyncRedis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)

    hub = _hub(settings, connect)
    scope = await scope_of(db, world, "a", "VIEWER")
    txn = await record_txn(db, world)
    events = stream.follow(db, hub, scope, [world.merchant_a], "refund_case", None)
    async with aclosing(events):
        waiting = asyncio.ensure_future(anext(events))
        await eventually(lambda: subscribers(redis_conn, events_channel(world.merchant_a)) == 1)

        # When the hub loses Redis, and an event is committed and published meanwhile
        reachable = False
        _kill(redis_conn, hub.name)
        await eventually(lambda: hub_connections(redis_conn, hub.name) == 0)
        case = await submit(db, world, txn)
        await relay_pending()
        await asyncio.sleep(0.3)
        assert not waiting.done()

        # Then, once Redis is back, the stream catches up from the table
        reachable = True
        item, _cursor = await asyncio.wait_for(waiting, 10)
        assert (item.type, item.aggregate_id) == ("refund_case.submitted", case.id)
    await hub.close()


async def test_a_slow_consumer_catches_up_from_the_table(settings, relay, db, world, redis_conn):
    # Given a stream whose inbox holds two messages, with its consumer busy elsewhere
    hub = _hub(settings)
    scope = await scope_of(db, world, "a", "VIEWER")
    txn = await record_txn(db, world, amount="500.00")
    inbox = stream.Inbox(limit=2)
    events = stream.follow(db, hub, scope, [world.merchant_a], "refund_case", None, inbox=inbox)
    async with aclosing(events):
        waiting = asyncio.ensure_future(anext(events))
        await listening(redis_conn, world.merchant_a)
        first = await submit(db, world, txn)
        await relay_pending()
        assert (await asyncio.wait_for(waiting, 10))[0].aggregate_id == first.id

        # When five more events arrive before it asks for the next one
        later = [await submit(db, world, txn) for _ in range(5)]
        await relay_pending()
        await eventually(lambda: inbox.behind)  # the inbox overflowed and let go

        # Then it still gets each of them, in order, once
        got = [(await asyncio.wait_for(anext(events), 10))[0].aggregate_id for _ in later]
        assert got == [c.id for c in later]
        assert not inbox.items and not inbox.behind
    await hub.close()


async def test_fifty_subscriptions_share_one_redis_connection(
    serve, relay, db, world, redis_conn
):
    # Given fifty subscriptions on five sockets of one server (one process), each
    # from the current position (so none misses the event however slowly it starts)
    srv = serve()
    scope = await scope_of(db, world, "a", "VIEWER")
    after = (await head(db, scope, [world.merchant_a])).encode()
    sockets = [await open_socket(srv.ws, world.key("a", "VIEWER")) for _ in range(5)]
    for ws in sockets:
        for n in range(10):
            await send(ws, str(n), "subscription($after: String) { refundCaseUpdates("
                                   "after: $after) { eventType } }", {"after": after})
    channel = events_channel(world.merchant_a)
    await eventually(lambda: subscribers(redis_conn, channel) == 1)

    # Then the process has one hub connection to Redis, subscribed once to the channel
    assert hub_connections(redis_conn) == 1

    # When an event is published, every subscription receives it
    await submit(db, world, await record_txn(db, world))
    await relay_pending()
    for ws in sockets:
        got = [await receive(ws) for _ in range(10)]
        assert sorted(m["id"] for m in got) == sorted(str(n) for n in range(10))
        assert {m["payload"]["data"]["refundCaseUpdates"]["eventType"] for m in got} == {
            "refund_case.submitted"}

    # And when the sockets close, the channel loses its only subscriber
    for ws in sockets:
        await ws.close()
    await eventually(lambda: subscribers(redis_conn, channel) == 0)
    assert hub_connections(redis_conn) == 1
