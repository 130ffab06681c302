"""Per-request data loaders: one class per key, one instance per request."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, tuple_
from sqlmodel import col
from strawberry.dataloader import DataLoader

from qrefund.graphql_schema.context import Context
from qrefund.platform.repository import scoped
from qrefund.platform.transactions.models import Transaction
from qrefund.tenants.models import Tenant

TenantKey = uuid.UUID
ScopedKey = tuple[uuid.UUID, uuid.UUID]


class TenantByIdLoader(DataLoader[TenantKey, Tenant | None]):
    def __init__(self, ctx: Context) -> None:
        super().__init__(load_fn=self._load)
        self.ctx = ctx

    async def _load(self, keys: Sequence[TenantKey]) -> list[Tenant | None]:
        async with self.ctx.reading() as uow:
            stmt = scoped(
                select(Tenant).where(col(Tenant.id).in_(list(keys))), col(Tenant.id), uow.scope
            )
            found = {t.id: t for t in (await uow.session.execute(stmt)).scalars()}
        return [found.get(k) for k in keys]


def by_scoped_key(model: Any) -> type[DataLoader[ScopedKey, Any]]:
    """A loader for a tenant table keyed by (tenant_id, id)."""

    class _Loader(DataLoader[ScopedKey, Any]):
        def __init__(self, ctx: Context) -> None:
            super().__init__(load_fn=self._load)
            self.ctx = ctx

        async def _load(self, keys: Sequence[ScopedKey]) -> list[Any]:
            found: dict[ScopedKey, Any] = {}
            async with self.ctx.reading() as uow:
                wanted = [k for k in keys if uow.scope.allows(k[0])]
                if wanted:
                    stmt = select(model).where(
                        tuple_(col(model.tenant_id), col(model.id)).in_(wanted)
                    )
                    stmt = scoped(stmt, col(model.tenant_id), uow.scope)
                    rows: list[Any] = list((await uow.session.execute(stmt)).scalars())
                    found = {(r.tenant_id, r.id): r for r in rows}
            return [found.get(k) for k in keys]

    _Loader.__name__ = f"{model.__name__}ByIdLoader"
    return _Loader


TransactionByIdLoader = by_scoped_key(Transaction)


def tenant_loader(ctx: Context) -> TenantByIdLoader:
    return ctx.loader("tenant_by_id", TenantByIdLoader)  # type: ignore[no-any-return]


def transaction_loader(ctx: Context) -> DataLoader[ScopedKey, Transaction | None]:
    return ctx.loader("transaction_by_id", TransactionByIdLoader)  # type: ignore[no-any-return]
