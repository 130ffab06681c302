"""dismissRiskFlag / confirmRiskFlag: a reviewer closes a flag with a note (the feedback
that tunes the rule for the merchant)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.context import Info
from qrefund.graphql_schema.errors import UserError
from qrefund.graphql_schema.risk.types import AnomalyFlagType
from qrefund.platform.db import UnitOfWork
from qrefund.platform.risk import service
from qrefund.platform.risk.models import RiskFlagRecord

P = TypeVar("P")


@strawberry.input
class DismissRiskFlagInput:
    id: strawberry.ID
    note: str = strawberry.field(description="Why it is a false alarm (up to 2000 characters).")


@strawberry.input
class ConfirmRiskFlagInput:
    id: strawberry.ID
    note: str = strawberry.field(description="What was found (up to 2000 characters).")


@strawberry.type
class DismissRiskFlagPayload:
    risk_flag: AnomalyFlagType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ConfirmRiskFlagPayload:
    risk_flag: AnomalyFlagType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


Review = Callable[..., Awaitable[RiskFlagRecord]]


async def _review(info: Info, payload: Callable[..., P], review: Review, gid: strawberry.ID,
                  note: str) -> P:
    async def unit(uow: UnitOfWork) -> P:
        tenant_id, flag_id = ids.scoped_id(gid, "AnomalyFlag")
        return payload(risk_flag=AnomalyFlagType.of(await review(uow, tenant_id, flag_id, note)))

    return await info.context.mutate(unit, lambda errors: payload(user_errors=errors))


@strawberry.type
class RiskMutations:
    @strawberry.mutation(description="Close an open flag as a false alarm (REFUND_AGENT or "
                         "ADMIN); dismissals loosen the rule for the merchant.")
    async def dismiss_risk_flag(self, info: Info, input: DismissRiskFlagInput
                                ) -> DismissRiskFlagPayload:
        return await _review(info, DismissRiskFlagPayload, service.dismiss, input.id, input.note)

    @strawberry.mutation(description="Close an open flag as a real anomaly (REFUND_AGENT or "
                         "ADMIN).")
    async def confirm_risk_flag(self, info: Info, input: ConfirmRiskFlagInput
                                ) -> ConfirmRiskFlagPayload:
        return await _review(info, ConfirmRiskFlagPayload, service.confirm, input.id, input.note)
