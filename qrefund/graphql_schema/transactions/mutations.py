"""recordTransaction."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.context import Info
from qrefund.graphql_schema.errors import UserError
from qrefund.graphql_schema.transactions.types import (
    PaymentChannel,
    TransactionStatus,
    TransactionType,
)
from qrefund.platform.db import UnitOfWork
from qrefund.platform.transactions import service
from qrefund.platform.transactions.models import PaymentChannel as DomainChannel
from qrefund.platform.transactions.models import TransactionStatus as DomainStatus


@strawberry.input
class RecordTransactionInput:
    merchant_id: strawberry.ID | None = None
    merchant_order_no: str
    channel: PaymentChannel  # type: ignore[valid-type]
    provider_reference: str
    amount: Decimal
    currency: str
    status: TransactionStatus  # type: ignore[valid-type]
    paid_at: datetime
    terminal_id: str | None = None
    store_id: str | None = None
    payer_account: str | None = None
    expected_amount: Decimal | None = strawberry.field(
        default=None, description="The amount the order says should have been charged (in "
        "the payment's currency), when the integrator knows it: a charged amount that "
        "differs raises an AMOUNT_MISMATCH risk flag.")


@strawberry.type
class RecordTransactionPayload:
    transaction: TransactionType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class TransactionMutations:
    @strawberry.mutation(
        description="Record a payment; the same merchant order number twice is idempotent."
    )
    async def record_transaction(
        self, info: Info, input: RecordTransactionInput
    ) -> RecordTransactionPayload:
        async def work(uow: UnitOfWork) -> RecordTransactionPayload:
            cmd = service.RecordTransaction(
                merchant_id=ids.tenant_id_of(input.merchant_id, "merchantId")
                if input.merchant_id
                else None,
                merchant_order_no=input.merchant_order_no,
                channel=DomainChannel(input.channel),
                provider_reference=input.provider_reference,
                amount=input.amount,
                currency=input.currency,
                status=DomainStatus(input.status),
                paid_at=input.paid_at,
                terminal_id=input.terminal_id,
                store_id=input.store_id,
                payer_account=input.payer_account,
                expected_amount=input.expected_amount,
            )
            return RecordTransactionPayload(
                transaction=TransactionType.of(await service.record(uow, cmd))
            )

        return await info.context.mutate(
            work, lambda errors: RecordTransactionPayload(user_errors=errors)
        )
