"""Read units' connections kept out of the pool from one unit to the next
(``qrefund.platform.read_connections``): reused only when clean, never held past their
time or while the pool has nothing left for anyone else."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event, text

from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from qrefund.platform.scope import TenantScope
from qrefund.tenants.auth import authenticate
from tests.support.world import World

pytestmark = pytest.mark.postgres_only


@pytest.fixture
async def own_db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.model_copy(update={"db_pool_size": 2, "db_pool_overflow": 0}))
    yield database
    await database.dispose()


class _Checkouts:
    """The pool's checkouts and checkins of a database's engine."""

    def __init__(self, database: Database) -> None:
        self.out = self.back = 0
        pool = database.read_engine.sync_engine.pool
        event.listen(pool, "checkout", self._out)
        event.listen(pool, "checkin", self._back)

    def _out(self, *_args: Any) -> None:
        self.out += 1

    def _back(self, *_args: Any) -> None:
        self.back += 1


async def _driver(database: Database, scope: TenantScope) -> Any:
    """The psycopg connection one read unit ran on."""
    async with database.unit_of_work(scope, readonly=True) as uow:
        await uow._execute_sql("SELECT 1", {})
        return uow._live_driver()


async def test_a_clean_read_units_connection_serves_the_next_without_the_pool(
        own_db: Database, world: World) -> None:
    scope = await authenticate(own_db, world.key("a"))
    first = await _driver(own_db, scope)
    checkouts = _Checkouts(own_db)
    assert [await _driver(own_db, scope) for _ in range(3)] == [first] * 3
    assert (checkouts.out, checkouts.back) == (0, 0)
    await own_db.read_connections.close()  # what dispose does first
    assert checkouts.back == 1 and own_db.read_engine.sync_engine.pool.checkedout() == 0


async def test_a_connection_left_in_a_transaction_goes_back_to_the_pool(
        own_db: Database, world: World) -> None:
    scope = await authenticate(own_db, world.key("a"))
    await _driver(own_db, scope)
    connections = own_db.read_connections
    lent = await connections.take()
    await lent.connection.sync_connection.connection.driver_connection.execute("SELECT 1")
    checkouts = _Checkouts(own_db)
    await connections.give_back(lent)  # psycopg's transaction still open
    assert connections.idle == [] and checkouts.back == 1


async def test_an_invalidated_connection_goes_back_to_the_pool(
        own_db: Database, world: World) -> None:
    scope = await authenticate(own_db, world.key("a"))
    first = await _driver(own_db, scope)
    lent = await own_db.read_connections.take()
    await lent.connection.invalidate()
    await own_db.read_connections.give_back(lent)
    assert own_db.read_connections.idle == []
    assert await _driver(own_db, scope) is not first


async def test_a_connection_held_its_time_goes_back_to_the_pool_to_be_recycled(
        own_db: Database, world: World) -> None:
    scope = await authenticate(own_db, world.key("a"))
    connections = own_db.read_connections
    connections.hold_seconds = 0.05
    await _driver(own_db, scope)
    assert len(connections.idle) == 1
    await asyncio.sleep(0.06)
    checkouts = _Checkouts(own_db)
    await _driver(own_db, scope)
    # The old one back to the pool, the unit's own taken from it and kept after.
    assert (checkouts.out, checkouts.back, len(connections.idle)) == (1, 1, 1)


async def test_nothing_is_kept_while_the_pool_has_nothing_left_for_a_write(
        own_db: Database, world: World) -> None:
    """A pool of two, both taken by read units: the first to end goes back to the pool,
    where a write waiting for a connection gets it."""
    scope = await authenticate(own_db, world.key("a"))
    connections = own_db.read_connections
    one, two = await connections.take(), await connections.take()
    waiting = asyncio.ensure_future(_write(own_db, scope))
    await asyncio.sleep(0.05)
    assert not waiting.done()  # the pool is empty
    await connections.give_back(one)
    assert connections.idle == []
    assert await asyncio.wait_for(waiting, 5) == 1
    await connections.give_back(two)
    assert len(connections.idle) == 1  # room again: kept


async def _write(database: Database, scope: TenantScope) -> int:
    async with database.unit_of_work(scope) as uow:
        return int((await uow._session.execute(text("SELECT 1"))).scalar_one())


async def test_a_kept_connection_killed_meanwhile_is_replaced_by_the_next_unit(
        own_db: Database, world: World, owner_engine: Any) -> None:
    """The server ended the kept connection's backend (a restart, an administrator): the
    next read unit finds it dead at its first statement and retries on a new one."""
    scope = await authenticate(own_db, world.key("a"))
    first = await _driver(own_db, scope)
    pid = first.info.backend_pid
    with owner_engine.connect() as admin:  # type: ignore[attr-defined]
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        for _ in range(250):  # until the backend has gone
            if not admin.execute(text("SELECT 1 FROM pg_stat_activity WHERE pid = :pid"),
                                 {"pid": pid}).all():
                break
            await asyncio.sleep(0.02)
    replaced = await _driver(own_db, scope)
    assert replaced.info.backend_pid != pid
    assert [c.sync_connection.connection.driver_connection.info.backend_pid
            for c in own_db.read_connections.idle] == [replaced.info.backend_pid]
