"""suspendMerchant, reactivateMerchant, closeMerchant (see qrefund.tenants.lifecycle)."""

from __future__ import annotations

from enum import Enum

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.context import Info
from qrefund.graphql_schema.errors import UserError
from qrefund.graphql_schema.tenants.types import TenantType
from qrefund.jobs.deadlines import policy
from qrefund.platform.db import UnitOfWork
from qrefund.platform.deadlines import freeze
from qrefund.tenants import lifecycle
from qrefund.tenants.models import CONTINUE, FREEZE


@strawberry.enum(description=(
    "What a suspension does to the merchant's open cases. CONTINUE: they go on (the "
    "platform's deadline sweep and payout jobs keep working them). FREEZE: they wait (no "
    "deadline warning, breach or escalation and no payout attempt while suspended; at "
    "reactivation their deadlines move on by the time spent frozen)."))
class OpenCases(Enum):
    CONTINUE = CONTINUE
    FREEZE = FREEZE


@strawberry.input
class SuspendMerchantInput:
    id: strawberry.ID
    reason: str
    open_cases: OpenCases = OpenCases.CONTINUE


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
                  reason: str | None, open_cases: OpenCases | None = None) -> object:
    async def work(uow: UnitOfWork) -> object:
        merchant_id = ids.tenant_id_of(gid, "id")
        if action == "reactivated":
            merchant, _ = await freeze.reactivate(uow, merchant_id, reason,
                                                  policy(info.context.settings))
        else:
            merchant = await lifecycle.change_status(
                uow, merchant_id, action, reason,
                open_cases=open_cases.value if open_cases else None)
        return payload(merchant=TenantType.of(merchant))

    return await info.context.mutate(work, lambda errors: payload(user_errors=errors))


@strawberry.type
class MerchantLifecycleMutations:
    @strawberry.mutation(description="Suspend a merchant (its agency or the operator): its "
                         "data stays readable and its keys read-only; nothing new is "
                         "written for it; its open cases go on or wait (openCases).")
    async def suspend_merchant(self, info: Info, input: SuspendMerchantInput
                               ) -> SuspendMerchantPayload:
        return await _change(info, SuspendMerchantPayload, input.id, "suspended",
                             input.reason, input.open_cases)  # type: ignore[return-value]

    @strawberry.mutation(description="Lift a suspension; frozen open cases get their "
                         "deadlines moved on by the time spent frozen.")
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
