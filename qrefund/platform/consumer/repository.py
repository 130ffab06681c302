"""All SQL of evidence files (through a TenantRepository: the caller's scope applies)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlmodel import col

from qrefund.platform.consumer.models import EvidenceFile
from qrefund.platform.repository import TenantRepository


class EvidenceFileRepository(TenantRepository[EvidenceFile]):
    model = EvidenceFile

    async def of_transaction(self, tenant_id: uuid.UUID, transaction_id: uuid.UUID,
                             file_ids: Sequence[uuid.UUID], *, lock: bool = False
                             ) -> list[EvidenceFile]:
        """Those of ``file_ids`` uploaded for this payment (others are left out)."""
        if not file_ids:
            return []
        stmt = self.select(col(EvidenceFile.tenant_id) == tenant_id,
                           col(EvidenceFile.transaction_id) == transaction_id,
                           col(EvidenceFile.id).in_(list(file_ids)))
        if lock:
            stmt = stmt.with_for_update()
        return await self.all(stmt.order_by(col(EvidenceFile.id)))

    async def count_of_transaction(self, tenant_id: uuid.UUID, transaction_id: uuid.UUID
                                   ) -> int:
        stmt = self.count(col(EvidenceFile.tenant_id) == tenant_id,
                          col(EvidenceFile.transaction_id) == transaction_id)
        return int(await self.scalar(stmt) or 0)
