"""Each operation on a socket has a context of its own: no database connection outlives it.

(The connection's context used to hold the read unit of the first query for as
long as the socket stayed open, one pooled connection per socket.)
"""

from __future__ import annotations

import asyncio

import pytest

from qrefund.jobs.relay import relay_pending
from tests.refunds.helpers import record_txn, submit
from tests.subscriptions.support import next_update, open_socket, query, subscribe

pytestmark = pytest.mark.postgres_only  # SQLite's engines have no pool to watch

NESTED = """subscription { refundCaseUpdates {
  cursor eventType refundCase { caseNumber status transaction { merchantOrderNo } } } }"""


async def _settled(pool: object) -> int:
    await asyncio.sleep(0.2)  # the watch's first key check may still be running
    return int(pool.checkedout())  # type: ignore[attr-defined]


async def test_queries_on_an_open_socket_hold_no_connection(serve, world):
    srv = serve()
    pool = srv.app.state.db.write_engine.pool
    ws = await open_socket(srv.ws, world.key("a", "VIEWER"))
    for n in range(3):
        data = await query(ws, "{ viewer { role tenant { name } } }", op_id=str(n))
        assert data["data"]["viewer"]["tenant"]["name"] == "Merchant A"
    assert await _settled(pool) == 0
    await ws.close()


async def test_a_waiting_subscription_holds_no_connection(serve, relay, db, world):
    # Given a subscription whose updates read through the request loaders
    srv = serve()
    pool = srv.app.state.db.write_engine.pool
    ws = await open_socket(srv.ws, world.key("a", "VIEWER"))
    await subscribe(ws, query=NESTED)
    txn = await record_txn(db, world)

    # When an update has been sent
    await submit(db, world, txn)
    await relay_pending()
    update = await next_update(ws)
    assert update["refundCase"]["transaction"]["merchantOrderNo"] == txn.merchant_order_no

    # Then, waiting for the next, it holds no database connection
    assert await _settled(pool) == 0
    await ws.close()
