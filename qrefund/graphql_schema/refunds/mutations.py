"""Refund case mutations: intake, review, decision, deadlines, cancellation.

Each is one unit of work calling one service function; a DomainError becomes
``userErrors`` and rolls everything back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.context import Info
from qrefund.graphql_schema.errors import UserError
from qrefund.graphql_schema.refunds.types import RefundCaseType
from qrefund.graphql_schema.vocabulary import (
    EvidenceType,
    RefundMethod,
    RefundReason,
    RequestChannel,
)
from qrefund.platform import vocabulary as enums
from qrefund.platform.db import UnitOfWork
from qrefund.platform.refunds import intake, service
from qrefund.platform.refunds.models import RefundCase


@strawberry.input
class EvidenceInput:
    type: EvidenceType  # type: ignore[valid-type]
    filename: str
    size: int
    sha256: str


@strawberry.input
class SubmitRefundRequestInput:
    transaction_id: strawberry.ID
    amount: Decimal
    reason: RefundReason  # type: ignore[valid-type]
    channel: RequestChannel  # type: ignore[valid-type]
    method: RefundMethod | None = None  # type: ignore[valid-type]
    description: str | None = None
    idempotency_key: str | None = None
    currency: str | None = strawberry.field(
        default=None, description="Optional; when given it must be the payment's currency.")
    evidence: list[EvidenceInput] | None = None
    contact_phone: str | None = None
    contact_email: str | None = None
    bank_destination: str | None = strawberry.field(
        default=None, description="Required for BANK_TRANSFER; stored encrypted.")
    flagged_as_risk: bool = strawberry.field(
        default=False, description="The submitter's own fraud signal: blocks auto-approval.")


@strawberry.input
class StartRefundReviewInput:
    id: strawberry.ID
    assignee: str | None = None


@strawberry.input
class ApproveRefundInput:
    id: strawberry.ID
    amount: Decimal | None = None
    note: str | None = None
    idempotency_key: str | None = None


@strawberry.input
class RejectRefundInput:
    id: strawberry.ID
    reason: str


@strawberry.input
class RequestRefundInfoInput:
    id: strawberry.ID
    message: str


@strawberry.input
class ProvideRefundInfoInput:
    id: strawberry.ID
    message: str


@strawberry.input
class ExtendRefundDeadlineInput:
    id: strawberry.ID
    until: datetime
    reason: str


@strawberry.input
class CancelRefundInput:
    id: strawberry.ID
    reason: str | None = None


@strawberry.type
class SubmitRefundRequestPayload:
    refund_case: RefundCaseType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class StartRefundReviewPayload:
    refund_case: RefundCaseType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ApproveRefundPayload:
    refund_case: RefundCaseType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RejectRefundPayload:
    refund_case: RefundCaseType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RequestRefundInfoPayload:
    refund_case: RefundCaseType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ProvideRefundInfoPayload:
    refund_case: RefundCaseType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ExtendRefundDeadlinePayload:
    refund_case: RefundCaseType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CancelRefundPayload:
    refund_case: RefundCaseType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


P = TypeVar("P")


async def _run(info: Info, payload: Callable[..., P],
               work: Callable[[UnitOfWork], Awaitable[RefundCase]]) -> P:
    async def unit(uow: UnitOfWork) -> P:
        return payload(refund_case=RefundCaseType.of(await work(uow)))

    return await info.context.mutate(unit, lambda errors: payload(user_errors=errors))


def _case_id(gid: strawberry.ID) -> tuple:  # type: ignore[type-arg]
    return ids.scoped_id(gid, "RefundCase")


def _submission(i: SubmitRefundRequestInput) -> intake.SubmitRefund:
    tenant_id, txn_id = ids.scoped_id(i.transaction_id, "Transaction", "transactionId")
    return intake.SubmitRefund(
        tenant_id=tenant_id, transaction_id=txn_id, amount=i.amount,
        reason=enums.RefundReason(i.reason), channel=enums.RequestChannel(i.channel),
        method=enums.RefundMethod(i.method) if i.method else None, description=i.description,
        currency=i.currency, contact_phone=i.contact_phone, contact_email=i.contact_email,
        bank_destination=i.bank_destination, flagged_as_risk=i.flagged_as_risk,
        idempotency_key=i.idempotency_key,
        evidence=[intake.Evidence(type=enums.EvidenceType(e.type), filename=e.filename,
                                  size=e.size, sha256=e.sha256) for e in i.evidence or []],
    )


@strawberry.type
class RefundMutations:
    @strawberry.mutation(description="Open a refund case for a payment, checked against the "
                         "merchant's policy. Replaying an idempotencyKey returns the first case.")
    async def submit_refund_request(self, info: Info, input: SubmitRefundRequestInput
                                    ) -> SubmitRefundRequestPayload:
        return await _run(info, SubmitRefundRequestPayload,
                          lambda uow: intake.submit(uow, _submission(input)))

    @strawberry.mutation
    async def start_refund_review(self, info: Info, input: StartRefundReviewInput
                                  ) -> StartRefundReviewPayload:
        return await _run(info, StartRefundReviewPayload, lambda uow: service.start_review(
            uow, *_case_id(input.id), assignee=input.assignee))

    @strawberry.mutation(description="Approve in full (no amount) or in part.")
    async def approve_refund(self, info: Info, input: ApproveRefundInput
                             ) -> ApproveRefundPayload:
        return await _run(info, ApproveRefundPayload, lambda uow: service.approve(
            uow, *_case_id(input.id), amount=input.amount, note=input.note,
            idempotency_key=input.idempotency_key))

    @strawberry.mutation
    async def reject_refund(self, info: Info, input: RejectRefundInput
                            ) -> RejectRefundPayload:
        return await _run(info, RejectRefundPayload, lambda uow: service.reject(
            uow, *_case_id(input.id), reason=input.reason))

    @strawberry.mutation(description="Ask the consumer for more; pauses the review clock.")
    async def request_refund_info(self, info: Info, input: RequestRefundInfoInput
                                  ) -> RequestRefundInfoPayload:
        return await _run(info, RequestRefundInfoPayload, lambda uow: service.request_info(
            uow, *_case_id(input.id), message=input.message))

    @strawberry.mutation(description="Record the consumer's answer; resumes the review clock.")
    async def provide_refund_info(self, info: Info, input: ProvideRefundInfoInput
                                  ) -> ProvideRefundInfoPayload:
        return await _run(info, ProvideRefundInfoPayload, lambda uow: service.provide_info(
            uow, *_case_id(input.id), message=input.message))

    @strawberry.mutation(description="Push the running deadline, within the policy's maximum.")
    async def extend_refund_deadline(self, info: Info, input: ExtendRefundDeadlineInput
                                     ) -> ExtendRefundDeadlinePayload:
        return await _run(info, ExtendRefundDeadlinePayload, lambda uow: service.extend_deadline(
            uow, *_case_id(input.id), until=input.until, reason=input.reason))

    @strawberry.mutation
    async def cancel_refund(self, info: Info, input: CancelRefundInput
                            ) -> CancelRefundPayload:
        return await _run(info, CancelRefundPayload, lambda uow: service.cancel(
            uow, *_case_id(input.id), reason=input.reason))
