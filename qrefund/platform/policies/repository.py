"""All SQL of refund policies (published versions are append-only)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, Uuid, bindparam, case
from sqlmodel import col

from qrefund.platform.policies.models import RefundPolicy
from qrefund.platform.repository import Key, TenantRepository


class RefundPolicyRepository(TenantRepository[RefundPolicy]):
    model = RefundPolicy

    async def latest(self, owner_id: uuid.UUID, parent_id: uuid.UUID | None
                     ) -> RefundPolicy | None:
        """The owner's latest version, else its parent's (an agency template), as a
        read-only view (the caller copies its terms).

        Beyond the scope on purpose: a merchant's key reads its agency's template. The
        caller has checked ``owner_id`` against the scope; the parent is the owner's
        own parent, so nothing else is reachable (RLS on PostgreSQL allows the same)."""
        def build() -> Select[Any]:  # kept: built once (it runs in every refund request)
            owner = col(RefundPolicy.tenant_id) == bindparam("owner", type_=Uuid)
            stmt = self.beyond_scope(
                owner if parent_id is None else col(RefundPolicy.tenant_id).in_(
                    [bindparam("owner", type_=Uuid), bindparam("parent", type_=Uuid)]),
                why="a merchant's terms may be its agency's template")
            return self.kept_view(stmt.order_by(case((owner, 0), else_=1),
                                                col(RefundPolicy.version).desc()).limit(1))

        stmt, params = self.kept(("latest", parent_id is None), build)
        return await self.first_kept_view(stmt, {**params, "owner": owner_id,
                                                  "parent": parent_id})

    async def versions(self, owner_id: uuid.UUID, *, first: int) -> list[RefundPolicy]:
        stmt = self.select(col(RefundPolicy.tenant_id) == owner_id)
        return await self.all(stmt.order_by(col(RefundPolicy.version).desc()).limit(first))

    async def by_case_keys(self, keys: Iterable[tuple[uuid.UUID, uuid.UUID, uuid.UUID]]
                           ) -> dict[Key, RefundPolicy]:
        """Versions named by cases: (case tenant, policy owner, policy id); a key counts
        only when the case's tenant is in scope (the owner is that merchant or its
        agency, as stamped when the case was judged)."""
        wanted = sorted({(owner, pid) for merchant, owner, pid in keys
                         if self.scope.allows(merchant)})
        if not wanted:
            return {}
        stmt = self.beyond_scope(
            col(RefundPolicy.tenant_id).in_(sorted({o for o, _ in wanted})),
            self.key_in(wanted), why="the version a case in scope was judged under")
        return {(r.tenant_id, r.id): r for r in await self.all(stmt)}
