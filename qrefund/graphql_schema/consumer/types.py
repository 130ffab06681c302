"""Public types: what a receipt holder sees (views of :mod:`qrefund.platform.consumer`)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.complaints.vocabulary import (
    ComplaintCategory,
    ComplaintResolution,
    ComplaintStatus,
)
from qrefund.graphql_schema.money import MoneyType
from qrefund.graphql_schema.policies.types import PublicRefundPolicy
from qrefund.graphql_schema.transactions.types import PaymentChannel, TransactionStatus
from qrefund.graphql_schema.vocabulary import (
    EvidenceType,
    RefundCaseStatus,
    RefundMethod,
    RefundReason,
    RequestChannel,
)
from qrefund.platform import vocabulary as enums
from qrefund.platform.complaints import vocabulary as complaint_enums
from qrefund.platform.consumer import uploads, views
from qrefund.platform.money import Money
from qrefund.platform.transactions import models as txn_models


def _money(m: Money) -> MoneyType:
    return MoneyType.of(m.minor, m.currency)


@strawberry.enum(description="Who did a step, as the consumer may know it (never a name).")
class PublicActor(StrEnum):
    CONSUMER = "CONSUMER"
    MERCHANT = "MERCHANT"
    PLATFORM = "PLATFORM"


@strawberry.type(description="The payment on a receipt, as its payer sees it.")
class PublicTransaction:
    merchant_order_no: str
    channel: PaymentChannel  # type: ignore[valid-type]
    status: TransactionStatus  # type: ignore[valid-type]
    amount: MoneyType
    refunded_amount: MoneyType
    refundable_amount: MoneyType
    paid_at: datetime
    payer: str | None = strawberry.field(description="The paying account, masked.")
    refund_window_ends_at: datetime

    @classmethod
    def of(cls, t: views.PublicTransaction, policy: views.PublicPolicy) -> PublicTransaction:
        return cls(merchant_order_no=t.merchant_order_no,
                   channel=txn_models.PaymentChannel(t.channel),
                   status=txn_models.TransactionStatus(t.status), amount=_money(t.amount),
                   refunded_amount=_money(t.refunded), refundable_amount=_money(t.refundable),
                   paid_at=t.paid_at, payer=t.payer_masked,
                   refund_window_ends_at=policy.refund_window_ends_at)


@strawberry.type(description="One step of a refund case, in plain words.")
class PublicTimelineEntry:
    type: str
    text: str = strawberry.field(description="The step in the receipt's language.")
    actor: PublicActor
    status: RefundCaseStatus | None  # type: ignore[valid-type]
    note: str | None = strawberry.field(description="A message to or from the consumer "
                                        "(a question, an answer, a reason); never a staff note.")
    occurred_at: datetime


@strawberry.type(description="A message sent to the consumer about a case.")
class PublicNotification:
    channel: str
    recipient: str = strawberry.field(description="Masked.")
    subject: str | None
    body: str
    status: str
    sent_at: datetime | None
    created_at: datetime


@strawberry.type(description="A file the consumer gave as evidence.")
class PublicEvidence:
    type: EvidenceType  # type: ignore[valid-type]
    filename: str
    size: int
    sha256: str
    url: str = strawberry.field(description="A signed link to the file, valid 15 minutes "
                                "(404 when only its description was given).")


@strawberry.type(description="A refund case as its consumer sees it.")
class PublicRefundCase:
    id: strawberry.ID = strawberry.field(description="The case's RefundCase id.")
    case_number: str
    status: RefundCaseStatus  # type: ignore[valid-type]
    requested_amount: MoneyType
    approved_amount: MoneyType | None
    reason: RefundReason  # type: ignore[valid-type]
    method: RefundMethod  # type: ignore[valid-type]
    channel: RequestChannel  # type: ignore[valid-type]
    description: str | None
    created_at: datetime
    review_due_at: datetime = strawberry.field(description="Decision by.")
    completion_due_at: datetime = strawberry.field(description="Money back by.")
    info_request: str | None = strawberry.field(
        description="The merchant's open question while AWAITING_INFO.")
    can_cancel: bool
    can_provide_info: bool
    contact_phone: str | None = strawberry.field(description="Masked.")
    contact_email: str | None = strawberry.field(description="Masked.")
    timeline: list[PublicTimelineEntry]
    notifications: list[PublicNotification]
    evidence: list[PublicEvidence]

    @classmethod
    def of(cls, c: views.PublicCase, base_url: str) -> PublicRefundCase:
        return cls(
            id=ids.encode("RefundCase", c.tenant_id, c.id), case_number=c.case_number,
            status=enums.RefundCaseStatus(c.status), requested_amount=_money(c.requested),
            approved_amount=_money(c.approved) if c.approved is not None else None,
            reason=enums.RefundReason(c.reason), method=enums.RefundMethod(c.method),
            channel=enums.RequestChannel(c.channel), description=c.description,
            created_at=c.created_at, review_due_at=c.review_due_at,
            completion_due_at=c.completion_due_at, info_request=c.info_request,
            can_cancel=c.can_cancel, can_provide_info=c.can_provide_info,
            contact_phone=c.contact_phone, contact_email=c.contact_email,
            timeline=[PublicTimelineEntry(
                type=e.type, text=e.text, actor=PublicActor(e.actor),
                status=enums.RefundCaseStatus(e.status) if e.status else None, note=e.note,
                occurred_at=e.occurred_at) for e in c.timeline],
            notifications=[PublicNotification(
                channel=n.channel, recipient=n.recipient_masked, subject=n.subject, body=n.body,
                status=n.status, sent_at=n.sent_at, created_at=n.created_at)
                for n in c.notifications],
            evidence=[PublicEvidence(type=enums.EvidenceType(e.type), filename=e.filename,
                                     size=e.size, sha256=e.sha256,
                                     url=uploads.download_link(c.tenant_id, e.id,
                                                               base_url=base_url))
                      for e in c.evidence])


@strawberry.type(description="A message of a complaint's thread the consumer sees.")
class PublicComplaintMessage:
    body: str
    author: PublicActor
    created_at: datetime


@strawberry.type(description="A complaint ticket as its consumer sees it (no internal notes, "
                 "no staff names).")
class PublicComplaintTicket:
    id: strawberry.ID = strawberry.field(description="The ticket's ComplaintTicket id.")
    ticket_number: str
    status: ComplaintStatus  # type: ignore[valid-type]
    category: ComplaintCategory  # type: ignore[valid-type]
    description: str
    refund_case_id: strawberry.ID | None
    created_at: datetime
    first_response_due_at: datetime | None
    resolution_due_at: datetime | None
    resolution: ComplaintResolution | None  # type: ignore[valid-type]
    resolution_note: str | None
    rating: int | None
    can_rate: bool
    messages: list[PublicComplaintMessage]

    @classmethod
    def of(cls, t: views.PublicComplaint) -> PublicComplaintTicket:
        return cls(
            id=ids.encode("ComplaintTicket", t.tenant_id, t.id), ticket_number=t.ticket_number,
            status=complaint_enums.ComplaintStatus(t.status),
            category=complaint_enums.ComplaintCategory(t.category), description=t.description,
            refund_case_id=(ids.encode("RefundCase", t.tenant_id, t.refund_case_id)
                            if t.refund_case_id else None),
            created_at=t.created_at, first_response_due_at=t.first_response_due_at,
            resolution_due_at=t.resolution_due_at,
            resolution=(complaint_enums.ComplaintResolution(t.resolution)
                        if t.resolution else None),
            resolution_note=t.resolution_note, rating=t.rating, can_rate=t.can_rate,
            messages=[PublicComplaintMessage(body=m.body, author=PublicActor(m.author),
                                             created_at=m.created_at) for m in t.messages])


@strawberry.type(description="Public (a receipt token, no key): a payment, the merchant's "
                 "refund policy, and the consumer's own cases and complaints.")
class Receipt:
    merchant_name: str
    locale: str = strawberry.field(description="zh-CN (default) or en: the language of the "
                                   "timeline's words.")
    expires_at: datetime = strawberry.field(description="The receipt stops working then (the "
                                            "refund window, or later while a case is followed).")
    transaction: PublicTransaction
    policy: PublicRefundPolicy
    refund_cases: list[PublicRefundCase]
    complaints: list[PublicComplaintTicket]

    @classmethod
    def of(cls, v: views.ReceiptView, base_url: str) -> Receipt:
        return cls(merchant_name=v.merchant_name, locale=v.locale, expires_at=v.expires_at,
                   transaction=PublicTransaction.of(v.transaction, v.policy),
                   policy=PublicRefundPolicy.named(v.merchant_name, v.merchant_slug, v.terms),
                   refund_cases=[PublicRefundCase.of(c, base_url) for c in v.refund_cases],
                   complaints=[PublicComplaintTicket.of(t) for t in v.complaints])
