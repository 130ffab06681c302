"""GraphQL types for payouts (``RefundCase.payouts``, ``node(id)``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import strawberry
from strawberry.dataloader import DataLoader

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.context import Context
from qrefund.graphql_schema.money import MoneyType
from qrefund.graphql_schema.relay import Node
from qrefund.graphql_schema.vocabulary import RefundMethod
from qrefund.platform import vocabulary as enums
from qrefund.platform.errors import NotFound
from qrefund.platform.payouts import models
from qrefund.platform.payouts import service as payouts
from qrefund.platform.payouts.models import Payout

PayoutStatus = strawberry.enum(models.PayoutStatus, name="PayoutStatus")

Key = tuple[uuid.UUID, uuid.UUID]


@strawberry.type(name="Payout", description="One attempt to pay a refund case's money back.")
class PayoutType(Node):
    attempt: int
    status: PayoutStatus  # type: ignore[valid-type]
    method: RefundMethod  # type: ignore[valid-type]
    amount: MoneyType
    out_refund_no: str = strawberry.field(
        description="The idempotency key sent to the payment channel for this attempt.")
    adapter: str
    destination_masked: str | None
    provider_refund_id: str | None
    failure_code: str | None
    failure_reason: str | None
    channel_calls: int
    polls: int
    next_check_at: datetime | None
    submitted_at: datetime | None
    completed_at: datetime | None
    created_at: datetime
    refund_case_id: strawberry.ID
    discrepancy: str | None = strawberry.field(
        default=None, description="Set when the provider's records contradict this attempt's "
                                  "final status (daily reconciliation).")
    reconciled_at: datetime | None = None
    via_service_provider: bool = strawberry.field(
        default=False, description="The attempt went through the merchant's agency's "
                                   "service-provider account (the merchant's link on it).")

    @classmethod
    def of(cls, p: Payout) -> PayoutType:
        return cls(
            id=ids.encode("Payout", p.tenant_id, p.id), attempt=p.attempt,
            status=models.PayoutStatus(p.status), method=enums.RefundMethod(p.method),
            amount=MoneyType.of(p.amount_minor, p.currency), out_refund_no=p.out_refund_no,
            adapter=p.adapter, destination_masked=p.destination_masked,
            provider_refund_id=p.provider_refund_id, failure_code=p.failure_code,
            failure_reason=p.failure_reason, channel_calls=p.channel_calls, polls=p.polls,
            next_check_at=p.next_check_at, submitted_at=p.submitted_at,
            completed_at=p.completed_at, created_at=p.created_at,
            refund_case_id=ids.encode("RefundCase", p.tenant_id, p.case_id),
            discrepancy=p.discrepancy, reconciled_at=p.reconciled_at,
            via_service_provider=p.channel_link_id is not None,
        )


class PayoutsByCaseLoader(DataLoader[Key, list[Payout]]):
    def __init__(self, ctx: Context) -> None:
        super().__init__(load_fn=self._load)
        self.ctx = ctx

    async def _load(self, keys: Sequence[Key]) -> list[list[Payout]]:
        async with self.ctx.reading() as uow:
            found = await payouts.for_cases(uow, keys)
        return [found.get(k, []) for k in keys]


def payouts_loader(ctx: Context) -> PayoutsByCaseLoader:
    return ctx.loader("payouts_by_case", PayoutsByCaseLoader)  # type: ignore[no-any-return]


async def payouts_of(ctx: Context, case_key: Key) -> list[PayoutType]:
    """``RefundCase.payouts``: every attempt, oldest first (one statement per page)."""
    return [PayoutType.of(p) for p in await payouts_loader(ctx).load(case_key)]


async def payout_node(ctx: Context, parts: list[uuid.UUID]) -> Node | None:
    if len(parts) != 2:
        return None
    try:
        async with ctx.reading() as uow:
            return PayoutType.of(await payouts.get(uow, parts[0], parts[1]))
    except NotFound:
        return None

