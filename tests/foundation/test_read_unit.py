"""A read-only unit on PostgreSQL starts on a bare connection and builds its ORM session
only when an ORM read needs one (``Database._read_unit``): rendered reads never pay for
a session, and the session, when it comes, joins the unit's transaction and scope."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from qrefund.platform.db import Database
from qrefund.platform.repository import UnscopedQuery
from qrefund.platform.transactions.repository import TransactionRepository
from qrefund.tenants.auth import authenticate
from qrefund.tenants.models import Tenant
from tests.foundation.helpers import record_txn
from tests.support.raw import unchecked
from tests.support.statements import round_trips
from tests.support.world import World

pytestmark = pytest.mark.postgres_only


@pytest.fixture
async def payments(client: httpx.AsyncClient, world: World) -> None:
    for who, n in (("a", 2), ("b", 1)):
        for i in range(n):
            await record_txn(client, world.key(who, "INTEGRATION"), merchantOrderNo=f"{who}-{i}")


async def test_a_read_past_the_orm_builds_no_session(db: Database, world: World) -> None:
    scope = await authenticate(db, world.key("a"))
    with round_trips(db) as seen:
        async with db.unit_of_work(scope, readonly=True) as uow:
            rows = (await uow._execute_sql("SELECT count(*) FROM transactions", {})).all()
            assert uow._orm is None
            assert uow.cached(Tenant, (world.merchant_a,)) is None  # and asking makes none
            assert uow._orm is None
    assert rows == [(0,)]
    # BEGIN, the scope, the read, COMMIT (a clean read unit keeps psycopg's prepared
    # statements: never ROLLBACK).
    assert seen == ["BEGIN", "SELECT", "SELECT", "COMMIT"], seen


async def test_the_session_joins_the_units_transaction_and_scope(
    db: Database, world: World, payments: None
) -> None:
    scope = await authenticate(db, world.key("a"))
    with round_trips(db) as seen:
        async with db.unit_of_work(scope, readonly=True) as uow:
            before = (await uow._execute_sql("SELECT pg_backend_pid(), txid_current()",
                                             {})).one()
            repo = TransactionRepository(uow)
            found = await repo.all(repo.select())
            after = (await unchecked(uow).execute(
                text("SELECT pg_backend_pid(), txid_current()"))).one()
            unscoped = (await unchecked(uow).execute(
                text("SELECT count(*) FROM transactions"))).scalar_one()
            assert uow._orm is not None
    assert tuple(before) == tuple(after)  # the same connection, the same transaction
    assert len(found) == 2 and {t.tenant_id for t in found} == {world.merchant_a}
    assert unscoped == 2  # row-level security sees the unit's scope in the session too
    assert seen.count("BEGIN") == 1 and seen[-1] == "COMMIT" and "ROLLBACK" not in seen


async def test_a_read_unit_that_changed_a_row_rolls_back(
    db: Database, world: World, payments: None
) -> None:
    scope = await authenticate(db, world.key("a"))
    with round_trips(db) as seen:
        async with db.unit_of_work(scope, readonly=True) as uow:
            repo = TransactionRepository(uow)
            payment = (await repo.all(repo.select()))[0]
            payment.merchant_order_no = "changed"
    assert seen[-1] == "ROLLBACK" and "UPDATE" not in seen, seen
    async with db.unit_of_work(scope, readonly=True) as uow:
        repo = TransactionRepository(uow)
        assert "changed" not in {t.merchant_order_no for t in await repo.all(repo.select())}


async def test_a_failed_statement_rolls_back_and_the_next_unit_is_clean(
    db: Database, world: World
) -> None:
    scope = await authenticate(db, world.key("a"))
    with pytest.raises(Exception, match="division by zero"):
        async with db.unit_of_work(scope, readonly=True) as uow:
            await uow._execute_sql("SELECT 1 / 0", {})
    for _ in range(3):  # whichever pooled connection comes next
        async with db.unit_of_work(scope, readonly=True) as uow:
            assert (await uow._execute_sql("SELECT 1", {})).scalar_one() == 1


async def test_a_late_session_still_guards_its_flushes(db: Database, world: World) -> None:
    scope = await authenticate(db, world.key("a"))
    with pytest.raises(UnscopedQuery, match="outside the scope"):
        async with db.unit_of_work(scope, readonly=True) as uow:
            await uow._execute_sql("SELECT 1", {})
            uow._add(Tenant(id=world.merchant_b, kind="MERCHANT", name="x", slug="x-b"))
            await uow.flush()
