"""retryRefundPayout."""

from __future__ import annotations

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.context import Info
from qrefund.graphql_schema.errors import UserError
from qrefund.graphql_schema.payouts.types import PayoutType
from qrefund.graphql_schema.refunds.types import RefundCaseType
from qrefund.graphql_schema.vocabulary import RefundMethod
from qrefund.platform import vocabulary as enums
from qrefund.platform.db import UnitOfWork
from qrefund.platform.payouts import service


@strawberry.input
class RetryRefundPayoutInput:
    id: strawberry.ID = strawberry.field(description="The refund case (status PAYOUT_FAILED).")
    method: RefundMethod | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Switch route; default: the case's current method.")
    bank_destination: str | None = strawberry.field(
        default=None, description="Required with BANK_TRANSFER; stored encrypted.")
    idempotency_key: str | None = None


@strawberry.type
class RetryRefundPayoutPayload:
    refund_case: RefundCaseType | None = None
    payout: PayoutType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class PayoutMutations:
    @strawberry.mutation(description="Pay a case whose payout failed again: a new attempt with "
                                     "a new idempotency key, optionally by bank transfer.")
    async def retry_refund_payout(self, info: Info, input: RetryRefundPayoutInput
                                  ) -> RetryRefundPayoutPayload:
        async def work(uow: UnitOfWork) -> RetryRefundPayoutPayload:
            tenant_id, case_id = ids.scoped_id(input.id, "RefundCase")
            cmd = service.RetryPayout(
                tenant_id=tenant_id, case_id=case_id,
                method=enums.RefundMethod(input.method) if input.method else None,
                bank_destination=input.bank_destination, idempotency_key=input.idempotency_key)
            case, payout = await service.retry(uow, cmd)
            return RetryRefundPayoutPayload(refund_case=RefundCaseType.of(case),
                                            payout=PayoutType.of(payout))

        return await info.context.mutate(
            work, lambda errors: RetryRefundPayoutPayload(user_errors=errors))
