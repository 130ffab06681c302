"""All SQL of the transactions domain (inside the caller's scope, see TenantRepository)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, or_
from sqlmodel import col

from qrefund.platform.repository import TenantRepository
from qrefund.platform.transactions.models import Transaction


class TransactionRepository(TenantRepository[Transaction]):
    model = Transaction

    async def by_order_no(self, tenant_id: uuid.UUID, order_no: str) -> Transaction | None:
        """The merchant's payment with this order number, row-locked (recording is
        idempotent on it)."""
        stmt = self.select(col(Transaction.tenant_id) == tenant_id,
                           col(Transaction.merchant_order_no) == order_no)
        return await self.first(stmt.with_for_update())

    async def lock(self, tenant_id: uuid.UUID, txn_id: uuid.UUID) -> Transaction | None:
        """The payment under its row lock, re-read even if the session holds a copy."""
        return await self.get(tenant_id, txn_id, lock=True)

    async def page(self, conditions: list[Any], *, first: int,
                   after: tuple[datetime, uuid.UUID] | None) -> list[Transaction]:
        """Newest first by (paid_at, id), ``first + 1`` rows (keyset)."""
        stmt = self.select(*conditions)
        if after is not None:
            paid_at, last_id = after
            stmt = stmt.where(or_(col(Transaction.paid_at) < paid_at,
                                  and_(col(Transaction.paid_at) == paid_at,
                                       col(Transaction.id) < last_id)))
        stmt = stmt.order_by(col(Transaction.paid_at).desc(),
                             col(Transaction.id).desc()).limit(first + 1)
        return await self.all(stmt)

    async def count_where(self, conditions: list[Any]) -> int:
        return int(await self.scalar(self.count(*conditions)))

    def filtered(self, *conditions: Any) -> Select[tuple[Transaction]]:
        return self.select(*conditions)
