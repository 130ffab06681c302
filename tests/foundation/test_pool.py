"""The connection pool under a steady load: connections it needed are kept.

Sixteen reads in flight at once, again and again, as a load balancer's sixteen
connections keep an API process busy. A pool smaller than that opens its overflow for
every burst and closes it again when the burst ends: a new PostgreSQL backend per
connection each time, its prepared statements lost (on the bench set that churn cost
one case by ``node(id)`` 2.2 ms of CPU per request against 1.7 ms).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from qrefund.app import create_app
from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from tests.support.graphql import ok
from tests.support.world import World

pytestmark = pytest.mark.postgres_only

PAGE_Q = "{ transactions(first: 5) { edges { node { id } } } }"
IN_FLIGHT, BURSTS = 16, 4


async def _connections_opened(settings: Settings, key: str) -> list[int]:
    """Connections the pool opened in each of BURSTS bursts of IN_FLIGHT concurrent
    reads."""
    database = Database(settings)
    opened = [0]

    def _count(_dbapi: Any, _record: Any) -> None:
        opened[-1] += 1

    event.listen(database.read_engine.sync_engine, "connect", _count)
    try:
        async with _client(settings, database) as client:
            for burst in range(BURSTS):
                await asyncio.gather(*(ok(client, PAGE_Q, key=key) for _ in range(IN_FLIGHT)))
                if burst < BURSTS - 1:
                    opened.append(0)
    finally:
        await database.dispose()
    return opened


def _client(settings: Settings, database: Database) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(settings, database))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_the_default_pool_keeps_the_connections_of_sixteen_reads_in_flight(
    settings: Settings, world: World
) -> None:
    assert Settings.model_fields["db_pool_size"].default >= IN_FLIGHT
    first, *after = await _connections_opened(settings, world.key("a", "VIEWER"))
    # The first burst's (its reads', and its key look-ups' last-used stamps', which are
    # writes and don't take the connections kept for read units), kept for the three
    # after it.
    assert 0 < first <= IN_FLIGHT + settings.db_pool_size
    assert after == [0] * (BURSTS - 1)


async def test_a_pool_smaller_than_the_load_opens_its_overflow_again_each_burst(
    settings: Settings, world: World
) -> None:
    # A pool smaller than the load (as the default of 10 was at this one): the
    # counter-check that the test above can see the churn.
    small = settings.model_copy(update={"db_pool_size": 4, "db_pool_overflow": IN_FLIGHT})
    opened = await _connections_opened(small, world.key("a", "VIEWER"))
    assert all(burst > 0 for burst in opened[1:]), opened
