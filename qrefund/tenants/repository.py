"""All SQL of tenants and API keys.

The tenants table is keyed by the tenant itself: its scope column is ``id``, and a
new tenant belongs to the scope of its parent (an agency creating a merchant).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlmodel import col

from qrefund.platform.repository import TenantRepository
from qrefund.platform.scope import TenantKind
from qrefund.tenants.models import ACTIVE, ApiKey, Tenant


class TenantRecordRepository(TenantRepository[Tenant]):
    model = Tenant
    tenant_column = "id"

    def add(self, row: Tenant) -> Tenant:
        """A tenant in scope, or a new one whose parent is (an agency's new merchant)."""
        if self.scope.allows(row.id) or self.scope.allows(row.parent_id):
            self.uow._add(row)
            return row
        return super().add(row)  # refused as not found

    async def by_slug(self, slug: str) -> Tenant | None:
        return await self.first(self.select(col(Tenant.slug) == slug))

    async def merchants(self, *, first: int, after: uuid.UUID | None) -> list[Tenant]:
        conditions: list[Any] = [col(Tenant.kind) == TenantKind.MERCHANT]
        if after is not None:
            conditions.append(col(Tenant.id) > after)
        return await self.all(self.select(*conditions).order_by(col(Tenant.id)).limit(first + 1))

    async def parent_of(self, tenant_id: uuid.UUID) -> uuid.UUID | None:
        found: uuid.UUID | None = await self.scalar(self.select_columns(
            col(Tenant.parent_id), where=[col(Tenant.id) == tenant_id]))
        return found

    async def exists(self) -> bool:
        return await self.first(self.select().limit(1)) is not None

    async def operator(self) -> Tenant | None:
        return await self.first(self.select(col(Tenant.kind) == TenantKind.OPERATOR))

    async def children_beyond_scope(self, parent_id: uuid.UUID
                                    ) -> list[tuple[uuid.UUID, str]]:
        """The ids and statuses of an agency's merchants, read while its scope is being
        built (the look-up runs in the agency's own scope, which does not list them yet)."""
        if not self.scope.allows(parent_id):
            return []
        stmt = self.beyond_scope(col(Tenant.parent_id) == parent_id,
                                 why="an agency key's scope: its merchants, by parent")
        return [(t.id, t.status) for t in await self.all(stmt)]

    async def active_page(self, kinds: Sequence[str], *, after: uuid.UUID | None, first: int
                          ) -> list[Tenant]:
        """Active tenants of these kinds in scope, by id (keyset from ``after``)."""
        conditions: list[Any] = [col(Tenant.kind).in_(list(kinds)), col(Tenant.status) == ACTIVE]
        if after is not None:
            conditions.append(col(Tenant.id) > after)
        return await self.all(self.select(*conditions).order_by(col(Tenant.id)).limit(first))

    async def by_ids(self, ids: set[uuid.UUID]) -> dict[uuid.UUID, Tenant]:
        wanted = {i for i in ids if self.scope.allows(i)}
        if not wanted:
            return {}
        return {t.id: t for t in await self.all(self.select(col(Tenant.id).in_(sorted(wanted))))}


class ApiKeyRepository(TenantRepository[ApiKey]):
    model = ApiKey

    async def with_tenant(self, tenant_id: uuid.UUID, key_id: uuid.UUID) -> Any:
        """The key and its tenant's kind and status, in one round trip (every request)."""
        stmt = self.select_columns(
            col(ApiKey.secret_hash), col(ApiKey.role), col(ApiKey.revoked_at),
            col(ApiKey.expires_at), col(ApiKey.last_used_at), col(ApiKey.merchant_ids),
            col(Tenant.kind), col(Tenant.status),
            where=[col(ApiKey.tenant_id) == tenant_id, col(ApiKey.id) == key_id],
        ).join(Tenant, col(Tenant.id) == col(ApiKey.tenant_id))
        rows = await self.rows(stmt)
        return rows[0] if rows else None

    async def touch(self, tenant_id: uuid.UUID, key_id: uuid.UUID, when: Any) -> None:
        await self.execute(self.update(col(ApiKey.tenant_id) == tenant_id,
                                       col(ApiKey.id) == key_id).values(last_used_at=when))
