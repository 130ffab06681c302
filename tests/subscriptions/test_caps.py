"""Subscriptions are capped per socket and per API key (in one process).

The one over a cap is answered with an ``error`` (code ``TOO_MANY_SUBSCRIPTIONS``)
and the socket stays open; queries do not count; a slot comes back when its
subscription completes or its socket closes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from qrefund.jobs.relay import relay_pending
from tests.refunds.helpers import record_txn, submit
from tests.subscriptions.support import VIEWER, next_update, open_socket, receive, send


async def _outcomes(ws: Any, *op_ids: str) -> dict[str, str]:
    """Subscribe ``op_ids`` in order; which were refused, and with what.

    Messages on a socket are handled in order, so a refusal comes before the answer
    to the query sent after them; a subscription that runs sends nothing yet.
    """
    for op_id in op_ids:
        await send(ws, op_id, "subscription { refundCaseUpdates { cursor } }")
    await send(ws, "probe", VIEWER)
    outcomes = dict.fromkeys(op_ids, "running")
    while (message := await receive(ws))["id"] != "probe":
        assert message["type"] == "error", message
        (error,) = message["payload"]
        outcomes[message["id"]] = f"{error['extensions']['code']}: {error['message']}"
    assert (await receive(ws)) == {"id": "probe", "type": "complete"}
    return outcomes


async def test_subscriptions_per_socket_are_capped(serve, relay, db, world):
    # Given a cap of two subscriptions per socket
    srv = serve(ws_max_subscriptions_per_socket=2)
    ws = await open_socket(srv.ws, world.key("a", "VIEWER"))

    # When a socket starts three, the third is refused and the socket stays usable
    assert await _outcomes(ws, "1", "2", "3") == {
        "1": "running", "2": "running",
        "3": "TOO_MANY_SUBSCRIPTIONS: too many subscriptions: at most 2 per connection",
    }

    # Then completing one frees its slot for another, which runs
    await ws.send('{"id": "1", "type": "complete"}')
    assert await _outcomes(ws, "4", "5") == {
        "4": "running",
        "5": "TOO_MANY_SUBSCRIPTIONS: too many subscriptions: at most 2 per connection",
    }
    await asyncio.sleep(0.3)  # let the new subscription start listening
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

    # Then closing a socket gives its subscriptions back to the key
    await first.close()
    await asyncio.sleep(0.3)  # the server notices the closed socket asynchronously
    assert await _outcomes(second, "3", "4") == {"3": "running", "4": "running"}
    await second.close()
    await other.close()


async def test_a_running_subscription_still_delivers(serve, relay, db, world):
    # The cap refuses new subscriptions only: those running keep their events.
    srv = serve(ws_max_subscriptions_per_socket=1)
    ws = await open_socket(srv.ws, world.key("a", "VIEWER"))
    assert (await _outcomes(ws, "1", "2"))["2"].startswith("TOO_MANY_SUBSCRIPTIONS")
    await asyncio.sleep(0.3)
    await submit(db, world, await record_txn(db, world))
    await relay_pending()
    assert (await next_update(ws, "1"))["cursor"]
    await ws.close()
