"""The receipt holder's public mutations (no key: the receipt token is the credential).

``applyForRefund``, ``provideRefundInfoByReceipt``, ``cancelRefundByReceipt``,
``openComplaintByReceipt``, ``replyToComplaintByReceipt`` and ``rateComplaint``: each
is rate-limited per token and per address, runs one unit of work in the receipt's
scope and calls one function of :mod:`qrefund.platform.consumer.service`. An
unknown, revoked or expired token is the user error ``NOT_FOUND`` on
``receiptToken``; a case or ticket of another payment is ``NOT_FOUND`` on ``id``.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.complaints.vocabulary import ComplaintCategory
from qrefund.graphql_schema.consumer.access import receipt_scope_unit
from qrefund.graphql_schema.consumer.types import PublicComplaintTicket, PublicRefundCase
from qrefund.graphql_schema.context import Info
from qrefund.graphql_schema.errors import UserError
from qrefund.graphql_schema.vocabulary import RefundMethod, RefundReason
from qrefund.platform import vocabulary as enums
from qrefund.platform.complaints import vocabulary as complaint_enums
from qrefund.platform.consumer import service, uploads, views
from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import DomainError


@strawberry.input(description="A consumer's refund request, by receipt token (no key).")
class ApplyForRefundInput:
    receipt_token: str
    amount: Decimal = strawberry.field(description="In the payment's currency; the whole "
                                       "amount, or part of it when the policy allows.")
    reason: RefundReason  # type: ignore[valid-type]
    description: str | None = None
    method: RefundMethod | None = None  # type: ignore[valid-type]
    contact_phone: str | None = None
    contact_email: str | None = None
    bank_destination: str | None = strawberry.field(
        default=None, description="Account to pay a BANK_TRANSFER refund to (stored encrypted).")
    currency: str | None = strawberry.field(default=None, description="If given, must be the "
                                            "payment's currency.")
    idempotency_key: str | None = None
    evidence_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Files uploaded with requestEvidenceUpload (at most 5).")


@strawberry.input
class ProvideRefundInfoByReceiptInput:
    receipt_token: str
    id: strawberry.ID = strawberry.field(description="The refund case (RefundCase id).")
    message: str
    evidence_ids: list[strawberry.ID] | None = None


@strawberry.input
class RequestEvidenceUploadInput:
    receipt_token: str


@strawberry.type
class RequestEvidenceUploadPayload:
    upload_url: str | None = strawberry.field(default=None, description=(
        "POST multipart/form-data here, files in the field \"files\" (at most 5, 5 MB "
        "each; JPEG, PNG, WebP or PDF); the answer lists the files' evidence ids."))
    expires_at: datetime | None = None
    max_files: int = uploads.MAX_FILES
    max_file_bytes: int = uploads.MAX_FILE_BYTES
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class CancelRefundByReceiptInput:
    receipt_token: str
    id: strawberry.ID
    reason: str | None = None


@strawberry.input
class OpenComplaintByReceiptInput:
    receipt_token: str
    category: ComplaintCategory  # type: ignore[valid-type]
    description: str
    refund_case_id: strawberry.ID | None = None
    contact_phone: str | None = None
    contact_email: str | None = None


@strawberry.input
class ReplyToComplaintByReceiptInput:
    receipt_token: str
    id: strawberry.ID = strawberry.field(description="The ticket (ComplaintTicket id).")
    message: str


@strawberry.input
class RateComplaintInput:
    receipt_token: str
    id: strawberry.ID
    rating: int = strawberry.field(description="1 (bad) to 5 (good); once, once resolved.")
    comment: str | None = None


@strawberry.type
class ApplyForRefundPayload:
    refund_case: PublicRefundCase | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ProvideRefundInfoByReceiptPayload:
    refund_case: PublicRefundCase | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CancelRefundByReceiptPayload:
    refund_case: PublicRefundCase | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class OpenComplaintByReceiptPayload:
    complaint_ticket: PublicComplaintTicket | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ReplyToComplaintByReceiptPayload:
    complaint_ticket: PublicComplaintTicket | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RateComplaintPayload:
    complaint_ticket: PublicComplaintTicket | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


P = TypeVar("P")
V = TypeVar("V")


async def _run(info: Info, token: str, wrap: Callable[[V], P],
               on_error: Callable[[list[UserError]], P],
               work: Callable[[UnitOfWork], Awaitable[V]]) -> P:
    """One unit in the receipt's scope; a DomainError rolls back and becomes userErrors."""
    try:
        async with receipt_scope_unit(info, token) as uow:
            return wrap(await work(uow))
    except DomainError as error:
        return on_error([UserError.of(error)])


def _case_id(gid: strawberry.ID, field: str = "id") -> uuid.UUID:
    return ids.scoped_id(gid, "RefundCase", field)[1]


def _ticket_id(gid: strawberry.ID) -> uuid.UUID:
    return ids.scoped_id(gid, "ComplaintTicket")[1]


def _evidence_ids(gids: list[strawberry.ID] | None) -> list[uuid.UUID]:
    return [ids.scoped_id(g, "EvidenceFile", "evidenceIds")[1] for g in gids or []]


def _apply(i: ApplyForRefundInput) -> service.ApplyForRefund:
    return service.ApplyForRefund(
        evidence_ids=_evidence_ids(i.evidence_ids),
        amount=i.amount, reason=enums.RefundReason(i.reason), description=i.description,
        method=enums.RefundMethod(i.method) if i.method else None,
        bank_destination=i.bank_destination, contact_phone=i.contact_phone,
        contact_email=i.contact_email, currency=i.currency, idempotency_key=i.idempotency_key)


def _complaint(i: OpenComplaintByReceiptInput) -> service.FileComplaint:
    return service.FileComplaint(
        category=complaint_enums.ComplaintCategory(i.category), description=i.description,
        refund_case_id=(ids.scoped_id(i.refund_case_id, "RefundCase", "refundCaseId")[1]
                        if i.refund_case_id else None),
        contact_phone=i.contact_phone, contact_email=i.contact_email)


def _cases(payload: Callable[..., P], base_url: str) -> tuple[Callable[[views.PublicCase], P],
                                               Callable[[list[UserError]], P]]:
    return (lambda c: payload(refund_case=PublicRefundCase.of(c, base_url)),
            lambda errors: payload(user_errors=errors))


def _tickets(payload: Callable[..., P]) -> tuple[Callable[[views.PublicComplaint], P],
                                                 Callable[[list[UserError]], P]]:
    return (lambda t: payload(complaint_ticket=PublicComplaintTicket.of(t)),
            lambda errors: payload(user_errors=errors))


def _base(info: Info) -> str:
    return info.context.settings.public_base_url


@strawberry.type
class ConsumerMutations:
    @strawberry.mutation(description="Public (receipt token): a signed URL, valid 30 minutes, "
                         "to upload evidence files to (README \"Consumers\").")
    async def request_evidence_upload(self, info: Info, input: RequestEvidenceUploadInput
                                      ) -> RequestEvidenceUploadPayload:
        token = input.receipt_token

        async def work(uow: UnitOfWork) -> tuple[str, datetime]:
            return await uploads.upload_link(uow, token, base_url=_base(info))

        return await _run(info, token,
                          lambda link: RequestEvidenceUploadPayload(upload_url=link[0],
                                                                    expires_at=link[1]),
                          lambda errors: RequestEvidenceUploadPayload(user_errors=errors), work)

    @strawberry.mutation(description="Public (receipt token, no key): ask for a refund of the "
                         "receipt's payment, judged against the merchant's policy.")
    async def apply_for_refund(self, info: Info, input: ApplyForRefundInput
                               ) -> ApplyForRefundPayload:
        token = input.receipt_token
        return await _run(info, token, *_cases(ApplyForRefundPayload, _base(info)),
                          lambda uow: service.apply_for_refund(uow, token, _apply(input)))

    @strawberry.mutation(description="Public (receipt token): answer the merchant's question "
                         "on an AWAITING_INFO case.")
    async def provide_refund_info_by_receipt(self, info: Info,
                                             input: ProvideRefundInfoByReceiptInput
                                             ) -> ProvideRefundInfoByReceiptPayload:
        token = input.receipt_token
        return await _run(info, token, *_cases(ProvideRefundInfoByReceiptPayload, _base(info)),
                          lambda uow: service.provide_info(
                              uow, token, _case_id(input.id), message=input.message,
                              evidence_ids=_evidence_ids(input.evidence_ids)))

    @strawberry.mutation(description="Public (receipt token): withdraw a request while it is "
                         "undecided.")
    async def cancel_refund_by_receipt(self, info: Info, input: CancelRefundByReceiptInput
                                       ) -> CancelRefundByReceiptPayload:
        token = input.receipt_token
        return await _run(info, token, *_cases(CancelRefundByReceiptPayload, _base(info)),
                          lambda uow: service.cancel(
                              uow, token, _case_id(input.id),
                              reason=input.reason))

    @strawberry.mutation(description="Public (receipt token): complain about the payment or "
                         "one of its refund cases.")
    async def open_complaint_by_receipt(self, info: Info, input: OpenComplaintByReceiptInput
                                        ) -> OpenComplaintByReceiptPayload:
        token = input.receipt_token
        return await _run(info, token, *_tickets(OpenComplaintByReceiptPayload),
                          lambda uow: service.open_complaint(uow, token, _complaint(input)))

    @strawberry.mutation(description="Public (receipt token): answer on one's own complaint.")
    async def reply_to_complaint_by_receipt(self, info: Info,
                                            input: ReplyToComplaintByReceiptInput
                                            ) -> ReplyToComplaintByReceiptPayload:
        token = input.receipt_token
        return await _run(info, token, *_tickets(ReplyToComplaintByReceiptPayload),
                          lambda uow: service.reply_to_complaint(
                              uow, token, _ticket_id(input.id),
                              message=input.message))

    @strawberry.mutation(description="Public (receipt token): rate a resolved complaint, 1-5, "
                         "once.")
    async def rate_complaint(self, info: Info, input: RateComplaintInput
                             ) -> RateComplaintPayload:
        token = input.receipt_token
        return await _run(info, token, *_tickets(RateComplaintPayload),
                          lambda uow: service.rate_complaint(
                              uow, token, _ticket_id(input.id),
                              rating=input.rating, comment=input.comment))
