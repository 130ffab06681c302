"""All SQL of the digests domain (inside the caller's scope, see TenantRepository)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlmodel import col

from qrefund.platform.digests.models import DailyDigest
from qrefund.platform.repository import TenantRepository


class DailyDigestRepository(TenantRepository[DailyDigest]):
    model = DailyDigest

    async def of_day(self, tenant_id: uuid.UUID, day: str, *, lock: bool = False
                     ) -> DailyDigest | None:
        stmt = self.select(col(DailyDigest.tenant_id) == tenant_id, col(DailyDigest.day) == day)
        if lock:
            stmt = stmt.with_for_update()
        return await self.first(stmt)

    async def made(self, keys: Iterable[tuple[uuid.UUID, str]]) -> set[tuple[uuid.UUID, str]]:
        """Which of these (tenant, day) digests exist."""
        wanted = self.keys_in_scope(keys)
        if not wanted:
            return set()
        stmt = self.select_columns(col(DailyDigest.tenant_id), col(DailyDigest.day), where=[
            col(DailyDigest.tenant_id).in_(sorted({t for t, _ in wanted})),
            col(DailyDigest.day).in_(sorted({d for _, d in wanted}))])
        rows: Any = await self.rows(stmt)
        found = {(row[0], row[1]) for row in rows}
        return found & set(wanted)
