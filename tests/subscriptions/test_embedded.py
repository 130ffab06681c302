"""Without QREFUND_REDIS_URL the hub listens on the embedded runtime's in-process Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qrefund.jobs import runtime
from tests.refunds.helpers import record_txn, submit
from tests.subscriptions.support import (
    closed,
    http_ok,
    listening,
    next_update,
    open_socket,
    subscribe,
)
from tests.subscriptions.test_key_checks import REVOKE, _key_gid


@pytest.fixture
def embedded() -> Iterator[None]:
    """The server runs the embedded job runtime; forget it afterwards."""
    yield
    runtime.reset()


async def test_updates_and_revocations_flow_without_a_redis_server(serve, embedded, db, world):
    # Given a server with no Redis URL (in-process Redis, in-process relay)
    srv = serve(redis_url=None)
    key = world.key("a", "VIEWER")
    ws = await open_socket(srv.ws, key)
    await subscribe(ws, {}, settle=0)
    await listening(runtime.embedded_redis(), world.merchant_a)

    # When a refund is submitted, its update reaches the subscription
    case = await submit(db, world, await record_txn(db, world))
    update = await next_update(ws)
    assert (update["eventType"], update["refundCase"]["caseNumber"]) == (
        "refund_case.submitted", case.case_number)

    # And when the key is revoked, its socket closes
    await http_ok(srv, REVOKE, world.key("agency", "ADMIN"), {"id": _key_gid(key)})
    assert (await closed(ws))[:2] == (4403, "API key has been revoked")
