"""Read-only views (platform/read_views.py) hold what the ORM would have loaded.

For payments, cases and timeline entries, the view read by ``TenantRepository.views``
and the ORM instance read by ``all`` from the same statement must agree on every
column attribute (same values, same types: UTC datetimes, JSON, enums as stored) and on
the model's properties; a view can't be changed; views follow the scope like any read.
"""

from __future__ import annotations

import inspect
from decimal import Decimal
from typing import Any

import pytest

from qrefund.platform.db import Database
from qrefund.platform.read_views import view_class, view_keys
from qrefund.platform.refunds import service
from qrefund.platform.refunds.models import RefundCase, RefundCaseEvent
from qrefund.platform.refunds.repository import RefundCaseEventRepository, RefundCaseRepository
from qrefund.platform.repository import TenantRepository
from qrefund.platform.transactions.models import Transaction
from qrefund.platform.transactions.repository import TransactionRepository
from tests.refunds.helpers import record_txn, scope_of, submit
from tests.support.world import World

REPOSITORIES: list[type[TenantRepository[Any]]] = [
    TransactionRepository, RefundCaseRepository, RefundCaseEventRepository]


def _properties(model: type[Any]) -> list[str]:
    return [name for klass in model.__mro__ if klass.__module__.startswith("qrefund")
            for name, value in vars(klass).items() if isinstance(value, property)]


async def test_a_view_holds_what_the_orm_loads(db: Database, world: World) -> None:
    agent = await scope_of(db, world, "a", "REFUND_AGENT")
    for n in range(3):
        txn = await record_txn(db, world, amount="80.00")
        case = await submit(db, world, txn, amount="30.00")
        if n:
            async with db.unit_of_work(agent) as uow:
                await service.start_review(uow, case.tenant_id, case.id)
                await service.approve(uow, case.tenant_id, case.id, amount=Decimal("25.00"))
    checked = 0
    async with db.unit_of_work(agent) as uow:
        for repo_class in REPOSITORIES:
            repo = repo_class(uow)
            stmt = repo.select().order_by(*repo.model.__table__.primary_key.columns)
            views = await repo.views(stmt)
            rows = await repo.all(stmt)
            assert len(views) == len(rows) >= 3
            for view, row in zip(views, rows, strict=True):
                for key in [*view_keys(repo.model), *_properties(repo.model)]:
                    mine, theirs = getattr(view, key), getattr(row, key)
                    assert (mine, type(mine)) == (theirs, type(theirs)), key
                    checked += 1
    assert checked > 150


def test_a_view_cannot_be_changed_and_keeps_the_model_methods() -> None:
    view_type = view_class(Transaction)
    view = view_type([None] * len(view_keys(Transaction)))
    with pytest.raises(AttributeError):
        view.status = "REFUNDED"  # type: ignore[misc]
    for model in (Transaction, RefundCase, RefundCaseEvent):
        copied = {name for name, value in vars(model).items()
                  if not name.startswith("__")
                  and (isinstance(value, property) or inspect.isfunction(value))}
        assert copied <= set(dir(view_class(model))), model


async def test_views_follow_the_scope(db: Database, world: World) -> None:
    await record_txn(db, world, "a")
    await record_txn(db, world, "b")
    scope_b = await scope_of(db, world, "b", "VIEWER")
    async with db.unit_of_work(scope_b) as uow:
        repo = TransactionRepository(uow)
        views = await repo.views(repo.select())
    assert views and {v.tenant_id for v in views} == {world.merchant_b}
