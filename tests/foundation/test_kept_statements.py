"""Statements kept from one request to the next (``TenantRepository.kept``) carry the
scope as a parameter: the statement built in the first caller's unit must find, in every
later unit, the rows of *that* unit's scope and no others. Each case here builds the
statement in one scope and reuses it in another; a statement that had the first scope's
ids baked in would find the wrong rows."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import Uuid, bindparam

from qrefund.graphql_schema.ids import decode
from qrefund.jobs.runtime import system_scope
from qrefund.platform import statements
from qrefund.platform.db import Database
from qrefund.platform.transactions.models import Transaction
from qrefund.platform.transactions.repository import TransactionRepository
from qrefund.tenants.auth import authenticate
from tests.foundation.helpers import record_txn
from tests.support.world import World


async def _payment(client: httpx.AsyncClient, world: World, who: str) -> uuid.UUID:
    txn = await record_txn(client, world.key(who, "INTEGRATION"),
                           merchantOrderNo=f"kept-{who}-{uuid.uuid4().hex[:8]}")
    return decode(txn["id"], "Transaction")[1]


def _by_id_only(repo: TransactionRepository) -> Any:
    """A kept read by id alone (no tenant equality): only the scope can keep another
    merchant's row out."""
    return repo.kept_select(Transaction.id == bindparam("only_id", type_=Uuid))  # type: ignore[arg-type]


async def _found(db: Database, scope: Any, txn_id: uuid.UUID, shape: str) -> list[Any]:
    async with db.unit_of_work(scope, readonly=True) as uow:
        repo = TransactionRepository(uow)
        stmt, params = repo.kept(shape, lambda: _by_id_only(repo))
        return await repo.all(stmt, {**params, "only_id": txn_id})


async def test_a_kept_statement_binds_each_units_own_scope(
    client: httpx.AsyncClient, db: Database, world: World
) -> None:
    mine, theirs = await _payment(client, world, "a"), await _payment(client, world, "b")
    shape = f"test-{uuid.uuid4().hex}"  # built fresh by this test, in a's scope first
    a = await authenticate(db, world.key("a"))
    b = await authenticate(db, world.key("b"))
    assert [t.id for t in await _found(db, a, mine, shape)] == [mine]
    assert await _found(db, a, theirs, shape) == []  # the scope alone keeps b's row out
    # The same statement object, now in b's scope: b's row, not a's.
    assert [t.id for t in await _found(db, b, theirs, shape)] == [theirs]
    assert await _found(db, b, mine, shape) == []
    # An agency's scope (several merchants) reuses it too, and sees both of its merchants.
    agency = await authenticate(db, world.key("agency"))
    assert [t.id for t in await _found(db, agency, mine, shape)] == [mine]
    assert [t.id for t in await _found(db, agency, theirs, shape)] == [theirs]
    other = await authenticate(db, world.key("other_agency"))
    assert await _found(db, other, mine, shape) == []


async def test_one_statement_per_shape_and_kind_of_scope(db: Database, world: World) -> None:
    shape = f"test-{uuid.uuid4().hex}"
    built: list[Any] = []
    for scope in (await authenticate(db, world.key("a")), await authenticate(db, world.key("b")),
                  system_scope()):
        async with db.unit_of_work(scope, readonly=True) as uow:
            repo = TransactionRepository(uow)
            stmt, params = repo.kept(shape, lambda: _by_id_only(repo))  # noqa: B023 (called now)
            built.append(stmt)
            # every tenant: no scope parameter; one merchant: its id (PostgreSQL: the id,
            # for ``tenant = :scope``; SQLite: a list, expanded into ``IN (...)``)
            assert params == ({} if scope.tenant_ids is None
                              else {statements.SCOPE: sorted(scope.tenant_ids)} if db.is_sqlite
                              else {statements.SCOPE: next(iter(scope.tenant_ids))})
    assert built[0] is built[1]  # both merchants' units ran the statement built once
    assert built[2] is not built[0]  # all tenants: a statement without the condition
    assert "qrefund_scope" not in str(built[2]) and "qrefund_scope" in str(built[0])


async def test_a_locked_read_by_key_stays_in_its_scope(
    client: httpx.AsyncClient, db: Database, world: World
) -> None:
    """``get`` (kept since it runs in every write): another merchant's key is not found,
    with or without the lock, whichever scope built the statement first."""
    mine, theirs = await _payment(client, world, "a"), await _payment(client, world, "b")
    for who, own, other, tenant_own, tenant_other in (
            ("a", mine, theirs, world.merchant_a, world.merchant_b),
            ("b", theirs, mine, world.merchant_b, world.merchant_a)):
        scope = await authenticate(db, world.key(who))
        for lock in (False, True):
            async with db.unit_of_work(scope) as uow:
                repo = TransactionRepository(uow)
                found = await repo.get(tenant_own, own, lock=lock)
                assert found is not None and found.id == own
                assert await repo.get(tenant_other, other, lock=lock) is None
                assert await repo.get(tenant_own, other, lock=lock) is None  # wrong pair
