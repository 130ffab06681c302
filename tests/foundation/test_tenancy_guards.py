"""The runtime half of the tenancy wall: statements and flushes that bypass it raise.

The architecture tests keep SQL in repositories; these guards catch what slips past
them at run time (a statement built by hand, a row of another tenant written), on
SQLite too, where there is no row-level security behind them.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from sqlmodel import col

from qrefund.platform.db import Database
from qrefund.platform.repository import UnscopedQuery
from qrefund.platform.transactions.models import Transaction
from qrefund.platform.transactions.repository import TransactionRepository
from qrefund.tenants.auth import authenticate
from qrefund.tenants.models import Tenant
from tests.support.world import World


async def test_a_hand_built_statement_on_a_tenant_table_raises(db: Database, world: World
                                                               ) -> None:
    scope = await authenticate(db, world.key("a"))
    async with db.unit_of_work(scope, readonly=True) as uow:
        with pytest.raises(UnscopedQuery, match="transactions"):
            await uow._session.execute(select(Transaction))
        with pytest.raises(UnscopedQuery, match="tenants"):
            await uow._session.execute(select(col(Tenant.id)).where(col(Tenant.slug) == "x"))
        with pytest.raises(UnscopedQuery):
            await uow._session.execute(update(Transaction).values(status="FAILED"))
        # The same read through the repository is fine, and scoped
        repo = TransactionRepository(uow)
        assert await repo.all(repo.select()) == []


async def test_a_row_of_another_tenant_is_never_written(db: Database, world: World) -> None:
    scope = await authenticate(db, world.key("a"))
    with pytest.raises(UnscopedQuery, match="outside the scope"):
        async with db.unit_of_work(scope) as uow:
            uow._add(Tenant(id=world.merchant_b, kind="MERCHANT", name="x", slug="x-b"))
            await uow.flush()
