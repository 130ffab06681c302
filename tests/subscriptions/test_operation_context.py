"""Each operation on a socket has a context of its own: no database connection outlives it.

(The connection's context used to hold the read unit of the first query for as
long as the socket stayed open, one pooled connection per socket.)
"""

from __future__ import annotations

from typing import Any

import pytest

from qrefund.jobs.relay import relay_pending
from tests.refunds.helpers import record_txn, submit
from tests.subscriptions.support import (
    eventually,
    listening,
    next_update,
    open_socket,
    query,
    subscribe,
)

pytestmark = pytest.mark.postgres_only  # SQLite's engines have no pool to watch

NESTED = """subscription { refundCaseUpdates {
  cursor eventType refundCase { caseNumber status transaction { merchantOrderNo } } } }"""


async def _none_checked_out(db: Any) -> bool:
    """No pooled connection in use, allowing a moment for a key check that may be running
    (a connection an operation keeps stays checked out for good). Those kept idle for
    the next read unit (``Database.read_connections``) are in nobody's use."""
    pool = db.write_engine.pool
    await eventually(lambda: pool.checkedout() == len(db.read_connections.idle), within=2)
    return True


async def test_queries_on_an_open_socket_hold_no_connection(serve, world):
    srv = serve()
    ws = await open_socket(srv.ws, world.key("a", "VIEWER"))
    for n in range(3):
        data = await query(ws, "{ viewer { role tenant { name } } }", op_id=str(n))
        assert data["data"]["viewer"]["tenant"]["name"] == "Merchant A"
    assert await _none_checked_out(srv.app.state.db)
    await ws.close()


async def test_a_waiting_subscription_holds_no_connection(serve, relay, db, world, redis_conn):
    # Given a subscription whose updates read through the request loaders
    srv = serve()
    ws = await open_socket(srv.ws, world.key("a", "VIEWER"))
    await subscribe(ws, query=NESTED, settle=0)
    await listening(redis_conn, world.merchant_a)
    txn = await record_txn(db, world)

    # When an update has been sent
    await submit(db, world, txn)
    await relay_pending()
    update = await next_update(ws)
    assert update["refundCase"]["transaction"]["merchantOrderNo"] == txn.merchant_order_no

    # Then, waiting for the next, it holds no database connection
    assert await _none_checked_out(srv.app.state.db)
    await ws.close()
