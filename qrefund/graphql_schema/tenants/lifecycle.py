"""suspendMerchant, reactivateMerchant, closeMerchant (see qrefund.tenants.lifecycle)."""

from __future__ import annotations

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.context import Info
from qrefund.graphql_schema.errors import UserError
from qrefund.graphql_schema.tenants.types import TenantType
from qrefund.platform.db import UnitOfWork
from qrefund.tenants import lifecycle


@strawberry.input
class SuspendMerchantInput:
    id: strawberry.ID
    reason: str


@strawberry.input
class ReactivateMerchantInput:
    id: strawberry.ID
    reason: str | None = None


@strawberry.input
class CloseMerchantInput:
    id: strawberry.ID
    reason: str


@strawberry.type
class SuspendMerchantPayload:
    merchant: TenantType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ReactivateMerchantPayload:
    merchant: TenantType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CloseMerchantPayload:
    merchant: TenantType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


async def _change(info: Info, payload: type, gid: strawberry.ID, action: str,
                  reason: str | None) -> object:
    async def work(uow: UnitOfWork) -> object:
        merchant = await lifecycle.change_status(uow, ids.tenant_id_of(gid, "id"), action,
                                                 reason)
        return payload(merchant=TenantType.of(merchant))

    return await info.context.mutate(work, lambda errors: payload(user_errors=errors))


@strawberry.type
class MerchantLifecycleMutations:
    @strawberry.mutation(description="Suspend a merchant (its agency or the operator): its "
                         "data stays readable and its keys read-only; nothing new is "
                         "written for it; open cases go on.")
    async def suspend_merchant(self, info: Info, input: SuspendMerchantInput
                               ) -> SuspendMerchantPayload:
        return await _change(info, SuspendMerchantPayload, input.id, "suspended",
                             input.reason)  # type: ignore[return-value]

    @strawberry.mutation(description="Lift a suspension.")
    async def reactivate_merchant(self, info: Info, input: ReactivateMerchantInput
                                  ) -> ReactivateMerchantPayload:
        return await _change(info, ReactivateMerchantPayload, input.id, "reactivated",
                             input.reason)  # type: ignore[return-value]

    @strawberry.mutation(description="Close a merchant for good: its data is kept (its agency "
                         "reads it), its own keys stop.")
    async def close_merchant(self, info: Info, input: CloseMerchantInput
                             ) -> CloseMerchantPayload:
        return await _change(info, CloseMerchantPayload, input.id, "closed",
                             input.reason)  # type: ignore[return-value]
