"""Rows written past the ORM's flush (``TenantRepository.write_changes`` /
``insert_kept``) and kept statements run on psycopg itself (``qrefund.platform.driver``):
the rows they write, what the unit still holds afterwards, the wall's rules, savepoints,
the listeners that count statements, and errors raised as SQLAlchemy's own."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import Uuid, bindparam, exc, select, update

from qrefund.jobs.runtime import system_scope
from qrefund.platform import driver
from qrefund.platform.clock import utcnow
from qrefund.platform.db import Database
from qrefund.platform.errors import CommonError, Conflict
from qrefund.platform.outbox.models import IdempotencyRecord
from qrefund.platform.refunds.repository import IdempotencyRepository
from qrefund.platform.transactions import service as transactions
from qrefund.platform.transactions.models import Transaction
from tests.conftest import BACKEND
from tests.foundation.test_merchant_lifecycle import life, merchant
from tests.foundation.test_sql_count import counting
from tests.refunds.helpers import record_txn, reload_txn, scope_of
from tests.support.world import World


def _written(statements: list[str]) -> list[str]:
    """The statements, without SQLite's lazy BEGIN."""
    return [s for s in statements if not s.upper().startswith("BEGIN")]


def _pending(uow: object) -> bool:
    """Does the unit hold anything its next flush would write?"""
    session = uow._session.sync_session  # type: ignore[attr-defined]
    return bool(session.new or session.dirty or session.deleted
                 or session.identity_map.check_modified())


async def test_write_changes_writes_the_changed_columns_once_and_leaves_nothing_pending(
    db: Database, world: World
) -> None:
    txn = await record_txn(db, world, amount="100.00")
    scope = await scope_of(db, world, "a")
    async with db.unit_of_work(scope) as uow:
        loaded = await transactions.get(uow, txn.tenant_id, txn.id, lock=True)
        loaded.reserved_minor += 2500
        loaded.refund_count += 1
        with counting(db) as statements:
            await transactions.write_changes(uow, loaded)
            await uow.flush()  # nothing left for the ORM to write
        statements = _written(statements)
        assert len(statements) == 1, statements
        assert statements[0].lstrip().upper().startswith("UPDATE TRANSACTIONS SET")
        assert "amount_minor" not in statements[0]  # only what changed
        assert not _pending(uow)
        loaded.refund_count += 1  # a later change still goes the ORM's way
        assert _pending(uow)
    fresh = await reload_txn(db, world, txn)
    assert (fresh.reserved_minor, fresh.refund_count) == (2500, 2)


async def test_write_changes_inside_a_savepoint_is_undone_with_it(
    db: Database, world: World
) -> None:
    txn = await record_txn(db, world, amount="100.00")
    scope = await scope_of(db, world, "a")
    async with db.unit_of_work(scope) as uow:
        loaded = await transactions.get(uow, txn.tenant_id, txn.id, lock=True)
        with pytest.raises(RuntimeError):
            async with uow.savepoint():
                loaded.reserved_minor = 9999
                await transactions.write_changes(uow, loaded)
                await uow.flush()
                raise RuntimeError("undo the savepoint")
        # The ORM knew of the write (it made it), so rolling back forgot the value.
        again = await transactions.get(uow, txn.tenant_id, txn.id)
        assert again.reserved_minor == 0
    assert (await reload_txn(db, world, txn)).reserved_minor == 0


async def test_write_changes_refuses_a_suspended_merchants_row(
    client: httpx.AsyncClient, db: Database, world: World
) -> None:
    txn = await record_txn(db, world, amount="100.00")
    done = await life(client, "SuspendMerchant", world.key("agency"), id=merchant(world),
                      reason="contract review")
    assert done["userErrors"] == []
    scope = await scope_of(db, world, "a")
    with pytest.raises(Conflict) as refused:
        async with db.unit_of_work(scope) as uow:
            loaded = await transactions.get(uow, txn.tenant_id, txn.id)
            loaded.reserved_minor = 100
            await transactions.write_changes(uow, loaded)
    assert refused.value.code == CommonError.MERCHANT_SUSPENDED
    assert (await reload_txn(db, world, txn)).reserved_minor == 0


async def test_insert_kept_keeps_the_new_row_in_the_unit(db: Database, world: World) -> None:
    txn = await record_txn(db, world, amount="100.00")
    scope = await scope_of(db, world, "a")
    async with db.unit_of_work(scope) as uow:
        repo = IdempotencyRepository(uow)
        record = IdempotencyRecord(tenant_id=txn.tenant_id, operation="test", key="kept",
                                   request_hash="0" * 64, result_id=uuid.uuid4(),
                                   created_at=utcnow())
        with counting(db) as statements:
            await repo.insert_kept(record)
        assert [s.split()[0].upper() for s in _written(statements)] == ["INSERT"]
        assert not _pending(uow)
        key = (txn.tenant_id, "test", "kept")
        assert uow.cached(IdempotencyRecord, key) is record
        record.request_hash = "1" * 64
        await repo.write_changes(record)
    async with db.unit_of_work(system_scope(), readonly=True) as uow:
        found = await IdempotencyRepository(uow).find(*key)
        assert found is not None and found.request_hash == "1" * 64


async def test_a_kept_write_is_counted_and_its_error_is_sqlalchemys(
    db: Database, world: World
) -> None:
    txn = await record_txn(db, world, amount="100.00")
    scope = await scope_of(db, world, "a")
    row = {"tenant_id": txn.tenant_id, "operation": "test", "key": "twice",
           "request_hash": "0" * 64, "result_id": uuid.uuid4(), "created_at": utcnow()}
    with pytest.raises(exc.IntegrityError):
        async with db.unit_of_work(scope) as uow:
            repo = IdempotencyRepository(uow)
            with counting(db) as statements:
                await repo.insert_rows([row])
            assert len(_written(statements)) == 1
            await repo.insert_rows([row])  # the same primary key again


@pytest.mark.skipif(BACKEND != "postgres", reason="the driver path is psycopg's")
async def test_only_plain_statements_take_the_driver_path(db: Database) -> None:
    async with db.unit_of_work(system_scope(), readonly=True) as uow:
        dialect = (await uow._flushed_connection()).dialect
    table = Transaction.__table__  # type: ignore[attr-defined]
    by_key = select(table.c.id).where(table.c.id == bindparam("x", type_=Uuid))
    assert driver.driver_form(by_key, dialect) is not None
    expanding = select(table.c.id).where(table.c.id.in_(bindparam("x", expanding=True)))
    assert driver.driver_form(expanding, dialect) is None
    # A column whose type converts what the driver gives (an instant made UTC-aware)
    # is converted as SQLAlchemy would (tests/foundation/test_rows_by_key.py compares
    # whole rows); a statement with nothing to convert skips the step.
    paid = update(table).where(table.c.id == bindparam("x", type_=Uuid)).values(
        status=bindparam("s")).returning(table.c.id, table.c.paid_at)
    form = driver.driver_form(paid, dialect)
    assert form is not None and form.results[0] is None and form.results[1] is not None
    assert driver.driver_form(by_key, dialect).results == ()  # type: ignore[union-attr]
