"""All SQL of the imports domain (inside the caller's scope, see TenantRepository)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import col

from qrefund.platform.imports.models import TransactionImport
from qrefund.platform.repository import TenantRepository
from qrefund.platform.sql_parts import keyset_past


class ImportRepository(TenantRepository[TransactionImport]):
    model = TransactionImport

    async def page(self, merchant_ids: list[uuid.UUID] | None, *, first: int,
                   after: tuple[datetime, uuid.UUID] | None) -> list[TransactionImport]:
        """Newest first by (created_at, id), ``first + 1`` rows (keyset)."""
        stmt = self.select()
        if merchant_ids:
            stmt = stmt.where(col(TransactionImport.tenant_id).in_(merchant_ids))
        if after is not None:
            stmt = stmt.where(keyset_past(col(TransactionImport.created_at),
                                          col(TransactionImport.id), after))
        stmt = stmt.order_by(col(TransactionImport.created_at).desc(),
                             col(TransactionImport.id).desc()).limit(first + 1)
        return await self.all(stmt)

    async def progress(self, tenant_id: uuid.UUID, import_id: uuid.UUID, *, done: int,
                       recorded: int, failed: int) -> None:
        await self.execute(self.update(col(TransactionImport.tenant_id) == tenant_id,
                                       col(TransactionImport.id) == import_id).values(
            rows_done=done, rows_recorded=recorded, rows_failed=failed))
