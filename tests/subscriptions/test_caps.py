"""Subscriptions are capped per socket and per API key (in one process).

The one over a cap is answered with an ``error`` (code ``TOO_MANY_SUBSCRIPTIONS``)
and the socket stays open; queries do not count; a slot comes back when its
subscription completes or its socket closes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from qrefund.jobs.relay import relay_pending
from qrefund.platform.outbox.feed import head
from tests.refunds.helpers import record_txn, scope_of, submit
from tests.subscriptions.support import VIEWER, next_update, open_socket, receive, send

SUBSCRIBE = "subscription($after: String) { refundCaseUpdates(after: $after) { cursor } }"


async def _outcomes(ws: Any, *op_ids: str, after: str | None = None) -> dict[str, str]:
    """Subscribe ``op_ids`` in order (from ``after``); which were refused, and with what.

    Messages on a socket are handled in order, so a refusal comes before the answer
    to the query sent after them; a subscription that runs sends nothing yet.
    """
    for op_id in op_ids:
        await send(ws, op_id, SUBSCRIBE, {"after": after})
    await send(ws, "probe", VIEWER)
    outcomes = dict.fromkeys(op_ids, "running")
    while (message := await receive(ws))["id"] != "probe":
        assert message["type"] == "error", message
        (error,) = message["payload"]
        outcomes[message["id"]] = f"{error['extensions']['code']}: {error['message']}"
    assert (await receive(ws)) == {"id": "probe", "type": "complete"}
    return outcomes


async def _now(db: Any, world: Any) -> str:
    """A cursor at merchant A's latest event: subscriptions from it miss nothing later,
    however long they take to start."""
    scope = await scope_of(db, world, "a", "VIEWER")
    return (await head(db, scope, [world.merchant_a])).encode()


async def test_subscriptions_per_socket_are_capped(serve, relay, db, world):
    # Given a cap of two subscriptions per socket
    srv = serve(ws_max_subscriptions_per_socket=2)
    ws = await open_socket(srv.ws, world.key("a", "VIEWER"))
    now = await _now(db, world)

    # When a socket starts three, the third is refused and the socket stays usable
    assert await _outcomes(ws, "1", "2", "3", after=now) == {
        "1": "running", "2": "running",
        "3": "TOO_MANY_SUBSCRIPTIONS: too many subscriptions: at most 2 per connection",
    }

    # Then completing one frees its slot for another, which runs
    await ws.send('{"id": "1", "type": "complete"}')
    assert await _outcomes(ws, "4", "5", after=now) == {
        "4": "running",
        "5": "TOO_MANY_SUBSCRIPTIONS: too many subscriptions: at most 2 per connection",
    }
    await submit(db, world, await record_txn(db, world))
    await relay_pending()
    got = [await receive(ws) for _ in range(2)]
    assert {(m["type"], m["id"]) for m in got} == {("next", "2"), ("next", "4")}
    await ws.close()


async def test_subscriptions_per_key_are_capped_across_sockets(serve, world):
    # Given a cap of three subscriptions per key (five per socket)
    srv = serve(ws_max_subscriptions_per_key=3, ws_max_subscriptions_per_socket=5)
    key = world.key("a", "VIEWER")
    first, second = await open_socket(srv.ws, key), await open_socket(srv.ws, key)
    assert await _outcomes(first, "1", "2") == {"1": "running", "2": "running"}

    # When the key's second socket asks for two more, the fourth of the key is refused
    assert await _outcomes(second, "1", "2") == {
        "1": "running",
        "2": "TOO_MANY_SUBSCRIPTIONS: too many subscriptions: at most 3 per API key",
    }
    # while another key is not affected
    other = await open_socket(srv.ws, world.key("a", "INTEGRATION"))
    assert await _outcomes(other, "1", "2", "3") == dict.fromkeys(("1", "2", "3"), "running")

    # Then closing a socket gives its subscriptions back to the key (once the server
    # has noticed: until then the key's third subscription is still refused)
    await first.close()
    deadline = asyncio.get_running_loop().time() + 5
    n = 0
    while (await _outcomes(second, f"retry{n}"))[f"retry{n}"] != "running":
        assert asyncio.get_running_loop().time() < deadline, "the slots did not come back"
        n += 1
    assert await _outcomes(second, "3", "4") == {
        "3": "running",
        "4": "TOO_MANY_SUBSCRIPTIONS: too many subscriptions: at most 3 per API key",
    }
    await second.close()
    await other.close()


async def test_a_running_subscription_still_delivers(serve, relay, db, world):
    # The cap refuses new subscriptions only: those running keep their events.
    srv = serve(ws_max_subscriptions_per_socket=1)
    ws = await open_socket(srv.ws, world.key("a", "VIEWER"))
    now = await _now(db, world)
    assert (await _outcomes(ws, "1", "2", after=now))["2"].startswith("TOO_MANY_SUBSCRIPTIONS")
    await submit(db, world, await record_txn(db, world))
    await relay_pending()
    assert (await next_update(ws, "1"))["cursor"]
    await ws.close()


async def test_an_id_used_again_after_complete_holds_its_own_slot(serve, db, world):
    # Given a cap of one subscription per socket
    srv = serve(ws_max_subscriptions_per_socket=1)
    ws = await open_socket(srv.ws, world.key("a", "VIEWER"))
    now = await _now(db, world)
    assert await _outcomes(ws, "1", after=now) == {"1": "running"}

    # When the client completes "1" and starts "1" again at once
    await ws.send('{"id": "1", "type": "complete"}')
    assert await _outcomes(ws, "1", after=now) == {"1": "running"}

    # Then the first "1"'s end gave back only its own slot: the socket is still full
    await asyncio.sleep(0.2)
    assert await _outcomes(ws, "2", after=now) == {
        "2": "TOO_MANY_SUBSCRIPTIONS: too many subscriptions: at most 1 per connection"}
    await ws.close()
