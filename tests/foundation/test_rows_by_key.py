"""``TenantRepository.get`` of a row the unit does not hold yet reads it on the driver
and builds the object itself (``_get_row``, ``kept_loaded``): the object must be what
the ORM would have loaded (every column, same values and types, instants UTC-aware),
held by the unit as loaded (a change to it is written, nothing else is), locked when
asked, and found only within the scope (one merchant, an agency's several)."""

from __future__ import annotations

import uuid
from datetime import UTC
from typing import Any

import httpx
import pytest
from sqlalchemy import Uuid, bindparam

from qrefund.platform.db import Database
from qrefund.platform.refunds.repository import RefundCaseRepository
from qrefund.platform.repository import TenantRepository
from qrefund.platform.transactions.repository import TransactionRepository
from qrefund.tenants.repository import TenantRecordRepository
from tests.conftest import BACKEND
from tests.foundation.test_sql_count import counting
from tests.refunds.helpers import record_txn, scope_of, submit
from tests.support.world import World

pytestmark = pytest.mark.skipif(BACKEND != "postgres",
                                reason="SQLite reads a row by key the ORM's way")


def _columns(row: Any) -> dict[str, Any]:
    return {c.name: getattr(row, c.name) for c in type(row).__table__.columns}


async def _orm_loaded(db: Database, scope: Any, repository: type[TenantRepository[Any]],
                      tenant_id: uuid.UUID, id: uuid.UUID) -> dict[str, Any]:
    """The row as the ORM's own loading makes it (a select through the session)."""
    async with db.unit_of_work(scope, readonly=True) as uow:
        repo = repository(uow)
        stmt = repo.select(repo.tenant == bindparam("t", type_=Uuid),
                           repo.model.id == bindparam("i", type_=Uuid))
        found = await repo.first(stmt, {"t": tenant_id, "i": id})
        assert found is not None
        return _columns(found)


async def test_a_row_by_key_is_what_the_orm_would_load(db: Database, world: World) -> None:
    txn = await record_txn(db, world, amount="12.34")
    case = await submit(db, world, txn, "5.00")
    scope = await scope_of(db, world, "a")
    subjects: list[tuple[type[TenantRepository[Any]], uuid.UUID, uuid.UUID]] = [
        (TransactionRepository, txn.tenant_id, txn.id),
        (RefundCaseRepository, case.tenant_id, case.id),
        (TenantRecordRepository, world.merchant_a, world.merchant_a)]
    for repository, tenant_id, id in subjects:
        expected = await _orm_loaded(db, scope, repository, tenant_id, id)
        async with db.unit_of_work(scope, readonly=True) as uow:
            repo = repository(uow)
            with counting(db) as statements:
                found = await repo.get(tenant_id, id)
            assert found is not None and len(statements) == 1
            got = _columns(found)
            assert got == expected, repository
            assert {k: type(v) for k, v in got.items()} == \
                {k: type(v) for k, v in expected.items()}
            assert all(v.tzinfo is not None and v.utcoffset() == UTC.utcoffset(None)
                       for v in got.values() if hasattr(v, "tzinfo")), got
            assert uow.cached(repo.model, repo._key(tenant_id, id)) is found
            # Held as loaded: asked again, the unit's own object (the ORM's way, since
            # the unit holds it), and nothing pending.
            assert await repo.get(tenant_id, id) is found
            assert not uow._session.sync_session.dirty


async def test_a_row_by_key_can_be_changed_and_locked(db: Database, world: World) -> None:
    txn = await record_txn(db, world, amount="100.00")
    scope = await scope_of(db, world, "a")
    async with db.unit_of_work(scope) as uow:
        with counting(db) as statements:
            loaded = await TransactionRepository(uow).get(txn.tenant_id, txn.id, lock=True)
        assert loaded is not None
        assert statements[-1].rstrip().upper().endswith("FOR UPDATE"), statements
        loaded.reserved_minor = 700
        with counting(db) as statements:
            await uow.flush()
        assert [s.split()[0].upper() for s in statements] == ["UPDATE"]
        assert "reserved_minor" in statements[0] and "amount_minor" not in statements[0]
    async with db.unit_of_work(scope, readonly=True) as uow:
        again = await TransactionRepository(uow).get(txn.tenant_id, txn.id)
        assert again is not None and again.reserved_minor == 700


async def test_a_row_by_key_is_found_only_in_scope(
    client: httpx.AsyncClient, db: Database, world: World
) -> None:
    txn = await record_txn(db, world, amount="100.00")
    own, other = await scope_of(db, world, "a"), await scope_of(db, world, "b")
    agency = await scope_of(db, world, "agency")
    for scope, found in ((own, True), (other, False), (agency, True)):
        async with db.unit_of_work(scope, readonly=True) as uow:
            row = await TransactionRepository(uow).get(txn.tenant_id, txn.id)
            assert (row is not None) is found, scope.tenant_ids
