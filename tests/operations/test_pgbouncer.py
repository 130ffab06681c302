"""Through a real PgBouncer in transaction mode, tenancy and row-level security hold.

A client's transactions run on whichever server connection is free, so nothing may
live in a session: the unit of work publishes the scope and the app role with
``set_config(..., true)`` in every transaction (``QREFUND_DB_TRANSACTION_POOLER``), and
both die with it. Two tenants' requests are interleaved over more client connections
than PgBouncer has server connections.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from qrefund.app import create_app
from qrefund.platform.config import Settings
from qrefund.platform.db import Database, async_url
from tests.foundation.helpers import record_txn
from tests.support.graphql import ok
from tests.support.pgbouncer import BINARY, MISSING, running_pgbouncer
from tests.support.world import World

pytestmark = [pytest.mark.postgres_only,
              pytest.mark.skipif(BINARY is None, reason=MISSING)]

LIST = "{ transactions(first: 100) { edges { node { merchantOrderNo } } } }"


@pytest.fixture
def pooler_url(settings: Settings) -> Iterator[str]:
    with running_pgbouncer(settings.database_url, pool_size=2) as url:
        yield url


@pytest.fixture
async def pooled_client(settings: Settings, pooler_url: str
                        ) -> AsyncIterator[httpx.AsyncClient]:
    pooled = settings.model_copy(update={
        "database_url": pooler_url, "db_transaction_pooler": True, "db_pool_size": 8})
    db = Database(pooled)
    transport = httpx.ASGITransport(app=create_app(pooled, db))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c
    finally:
        await db.dispose()


async def test_two_tenants_interleaved_through_pgbouncer_see_only_their_own(
    pooled_client: httpx.AsyncClient, world: World,
) -> None:
    # Given merchants A and C writing and reading at once, 16 client connections over
    # PgBouncer's 2 server connections
    keys = {"a": world.key("a"), "c": world.key("c")}
    orders: dict[str, set[str]] = {"a": set(), "c": set()}

    async def record(who: str) -> None:
        order = f"{who}-{uuid.uuid4().hex[:10]}"
        await record_txn(pooled_client, keys[who], merchantOrderNo=order)
        orders[who].add(order)

    async def listed(who: str) -> set[str]:
        data = await ok(pooled_client, LIST, key=keys[who])
        return {e["node"]["merchantOrderNo"] for e in data["transactions"]["edges"]}

    for _ in range(4):
        await asyncio.gather(*(record(w) for w in ("a", "c", "a", "c", "c", "a")))
        seen = await asyncio.gather(*(listed(w) for w in ("a", "c") * 4))
        # Then every list is exactly its own tenant's rows, whatever connection served it
        # (a round's records have all finished before its lists start)
        for who, found in zip(("a", "c") * 4, seen, strict=True):
            assert found == orders[who]
    assert len(orders["a"]) == len(orders["c"]) == 12


async def test_scope_and_role_die_with_each_pooled_transaction(
    pooled_client: httpx.AsyncClient, pooler_url: str, settings: Settings, world: World,
) -> None:
    # Given rows of A and C, recorded through the pooler
    for who in ("a", "c"):
        await record_txn(pooled_client, world.key(who))
    engine = create_async_engine(async_url(pooler_url), pool_size=12,
                                 connect_args={"prepare_threshold": None})
    tenants = {world.merchant_a: "a", world.merchant_c: "c"}

    async def scoped_then_bare(tenant: uuid.UUID) -> tuple[set[Any], Any, Any, int]:
        async with engine.connect() as conn:
            async with conn.begin():  # what a unit of work does behind the pooler
                await conn.execute(text(
                    "SELECT set_config('qrefund.tenant_ids', :t, true), "
                    "set_config('qrefund.all_tenants', 'false', true), "
                    "set_config('role', :r, true)"), {"t": str(tenant), "r": settings.db_app_role})
                seen = set((await conn.execute(text(
                    "SELECT DISTINCT tenant_id FROM transactions"))).scalars())
            async with conn.begin():  # the next transaction: maybe another server connection
                user, ids = (await conn.execute(text(
                    "SELECT current_user, current_setting('qrefund.tenant_ids', true)"))).one()
            async with conn.begin():  # the app role with no scope published sees nothing
                await conn.execute(text("SELECT set_config('role', :r, true)"),
                                   {"r": settings.db_app_role})
                bare = (await conn.execute(text("SELECT count(*) FROM transactions"))).scalar()
        return seen, user, ids, int(bare or 0)

    try:
        # When 12 clients interleave over 2 server connections
        results = await asyncio.gather(*(scoped_then_bare(t) for t in list(tenants) * 6))
    finally:
        await engine.dispose()
    # Then row-level security showed each its own tenant's rows, and nothing of a
    # transaction's scope or role outlived it on the shared server connections
    for tenant, (seen, user, ids, bare) in zip(list(tenants) * 6, results, strict=True):
        assert seen == {tenant}
        assert user == make_url(settings.database_url).username
        assert ids in (None, "")
        assert bare == 0
