"""The consumer channel: what a receipt holder may see and do, for the page and the API.

Every function takes a unit of work opened with the receipt scope of ``token``
(:func:`qrefund.platform.consumer.access.receipt_unit` opens one) and the token
itself, and answers *not found* (``NOT_FOUND`` on ``receiptToken``) for a forged,
revoked, superseded or expired receipt alike: nothing tells them apart. The scope
reaches that one payment; a case or ticket of any other payment is *not found*.

Stable signatures (the HTML pages and the public GraphQL API both call these):

* ``receipt(uow, token, *, locale=None) -> ReceiptView``
* ``apply_for_refund(uow, token, cmd: ApplyForRefund) -> PublicCase``
* ``provide_info(uow, token, case_id, *, message) -> PublicCase``
* ``cancel(uow, token, case_id, *, reason=None) -> PublicCase``
* ``open_complaint(uow, token, cmd: FileComplaint) -> PublicComplaint``
* ``reply_to_complaint(uow, token, ticket_id, *, message) -> PublicComplaint``
* ``rate_complaint(uow, token, ticket_id, *, rating, comment=None) -> PublicComplaint``

A receipt expires when the refund window has closed and nothing of the consumer's
has moved for ``holding.FOLLOW_UP_DAYS`` (so a case or complaint stays followable
after the window); the expiry is shown on the view. Evidence files are uploaded
first (:mod:`qrefund.platform.consumer.uploads`) and named by id when applying.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from qrefund.platform.complaints import intake as complaint_intake
from qrefund.platform.complaints import queries as complaint_queries
from qrefund.platform.complaints import service as complaints
from qrefund.platform.complaints.models import ComplaintTicket
from qrefund.platform.complaints.vocabulary import AuthorKind, ComplaintCategory
from qrefund.platform.consumer import uploads, views
from qrefund.platform.consumer.errors import ConsumerError
from qrefund.platform.consumer.holding import HeldReceipt, hold_receipt
from qrefund.platform.consumer.views import (
    PublicCase,
    PublicComplaint,
    ReceiptView,
)
from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import InvalidInput, NotFound
from qrefund.platform.money import Money
from qrefund.platform.notifications import service as notifications
from qrefund.platform.notifications.models import REFUND_CASE
from qrefund.platform.refunds import intake, privacy
from qrefund.platform.refunds import queries as refund_queries
from qrefund.platform.refunds import service as refunds
from qrefund.platform.refunds.lifecycle import UNDECIDED
from qrefund.platform.refunds.models import RefundCase
from qrefund.platform.transactions.models import Transaction
from qrefund.platform.vocabulary import RefundCaseStatus, RefundMethod, RefundReason, RequestChannel

MAX_NOTIFICATIONS = 50
_RATEABLE = frozenset({"RESOLVED", "CLOSED"})


@dataclass(frozen=True)
class ApplyForRefund:
    """``applyForRefund``'s input; amounts in the payment's currency (decimal)."""

    amount: Decimal
    reason: RefundReason
    description: str | None = None
    method: RefundMethod | None = None
    bank_destination: str | None = None
    contact_phone: str | None = None
    contact_email: str | None = None
    currency: str | None = None
    evidence_ids: list[uuid.UUID] = field(default_factory=list)  # uploaded files (uploads)
    channel: RequestChannel = RequestChannel.POS_QR
    idempotency_key: str | None = None


@dataclass(frozen=True)
class FileComplaint:
    category: ComplaintCategory
    description: str
    refund_case_id: uuid.UUID | None = None
    contact_phone: str | None = None
    contact_email: str | None = None
    channel: RequestChannel = RequestChannel.WEB


def _own_case(held: HeldReceipt, case_id: uuid.UUID, field: str = "id") -> RefundCase:
    for case in held.cases:
        if case.id == case_id:
            return case
    raise NotFound("refund case not found", field=[field])


def _own_ticket(held: HeldReceipt, ticket_id: uuid.UUID) -> ComplaintTicket:
    for ticket in held.tickets:
        if ticket.id == ticket_id:
            return ticket
    raise NotFound("complaint ticket not found", field=["id"])


# -- reading -------------------------------------------------------------------------------


async def receipt(uow: UnitOfWork, token: str, *, locale: str | None = None) -> ReceiptView:
    """Everything the receipt page shows, in ``locale`` (zh-CN unless it starts with en)."""
    held = await hold_receipt(uow, token)
    lang = views.locale_of(locale)
    cases = [await _case_view(uow, c, lang) for c in held.cases]
    return ReceiptView(
        merchant_name=held.merchant_name, merchant_slug=held.merchant_slug, locale=lang,
        expires_at=held.expires_at,
        transaction=_transaction_view(held.txn), policy=_policy_view(held, lang),
        refund_cases=tuple(cases),
        complaints=tuple(await _complaint_views(uow, held.tickets)), terms=held.terms)


def _transaction_view(txn: Transaction) -> views.PublicTransaction:
    return views.PublicTransaction(
        id=txn.id, merchant_order_no=txn.merchant_order_no, channel=txn.channel,
        status=txn.status, amount=txn.amount, refunded=txn.refunded,
        refundable=Money(txn.refundable_minor, txn.currency), paid_at=txn.paid_at,
        payer_masked=txn.payer_masked)


def _policy_view(held: HeldReceipt, locale: str) -> views.PublicPolicy:
    terms = held.terms
    texts = terms.consumer_text or {}
    text = texts.get(locale) or texts.get("en") or texts.get("zh-CN") or {}
    faq = tuple(views.FaqEntry(str(f.get("question", "")), str(f.get("answer", "")))
                for f in text.get("faq") or [] if isinstance(f, dict))
    return views.PublicPolicy(
        version=terms.version, locale=locale, refund_window_days=terms.refund_window_days,
        refund_window_ends_at=held.txn.paid_at + timedelta(days=terms.refund_window_days),
        review_sla_hours=terms.review_sla_hours, completion_sla_hours=terms.completion_sla_hours,
        allow_partial=terms.allow_partial,
        max_refunds_per_transaction=terms.max_refunds_per_transaction,
        allowed_methods=tuple(str(m) for m in terms.allowed_methods),
        allowed_reasons=(None if terms.allowed_reasons is None
                         else tuple(str(r) for r in terms.allowed_reasons)),
        evidence_required_reasons=tuple(str(r) for r in terms.evidence_required_reasons),
        conditions=text.get("conditions"), steps=text.get("steps"), faq=faq)


async def _case_view(uow: UnitOfWork, case: RefundCase, locale: str) -> PublicCase:
    key = (case.tenant_id, case.id)
    events = (await refund_queries.events_by_case(uow, [key])).get(key, [])
    evidence = (await refund_queries.evidence_by_case(uow, [key])).get(key, [])
    sent = await notifications.sent_to_receipt_holder(uow, REFUND_CASE, case.tenant_id, case.id,
                                                      first=MAX_NOTIFICATIONS)
    timeline = []
    question = None
    for e in events:
        words = views.case_words(e.type, locale)
        if words is None:
            continue
        if e.type == "info_requested":
            question = e.note
        timeline.append(views.TimelineEntry(
            type=e.type, text=words, actor=views.who(e.actor), status=e.to_status,
            note=views.public_note(e.type, e.note), occurred_at=e.occurred_at))
    state = case.state
    return PublicCase(
        tenant_id=case.tenant_id, id=case.id, case_number=case.case_number, status=case.status,
        requested=case.requested,
        approved=(Money(case.approved_minor, case.currency)
                  if case.approved_minor is not None else None),
        reason=case.reason, method=case.method, channel=case.channel,
        description=case.description, created_at=case.created_at,
        review_due_at=case.review_due_at, completion_due_at=case.completion_due_at,
        info_request=question if state == RefundCaseStatus.AWAITING_INFO else None,
        can_cancel=state in UNDECIDED, can_provide_info=state == RefundCaseStatus.AWAITING_INFO,
        contact_phone=privacy.contact_phone(case), contact_email=privacy.contact_email(case),
        timeline=tuple(timeline),
        notifications=tuple(views.PublicNotification(
            channel=n.channel, recipient_masked=n.recipient_masked, subject=n.subject,
            body=n.body, status=n.status, sent_at=n.sent_at, created_at=n.created_at)
            for n in sent),
        evidence=tuple(views.PublicEvidence(id=e.id, type=e.type, filename=e.filename,
                                            size=e.size_bytes, sha256=e.sha256)
                       for e in evidence))


async def _complaint_views(uow: UnitOfWork, tickets: list[ComplaintTicket]
                           ) -> list[PublicComplaint]:
    keys = [(t.tenant_id, t.id) for t in tickets]
    # A receipt scope never sees internal notes (complaints.queries.sees_notes).
    threads = await complaint_queries.messages_by_ticket(uow, keys) if keys else {}
    out = []
    for t in tickets:
        messages = tuple(
            views.PublicMessage(body=m.body, created_at=m.created_at,
                                author="CONSUMER" if m.author_kind == AuthorKind.CONSUMER
                                else "MERCHANT")
            for m in threads.get((t.tenant_id, t.id), []) if not m.internal)
        out.append(PublicComplaint(
            tenant_id=t.tenant_id, id=t.id, ticket_number=t.ticket_number, status=t.status,
            category=t.category,
            description=t.description, refund_case_id=t.refund_case_id,
            created_at=t.created_at, first_response_due_at=t.first_response_due_at,
            resolution_due_at=t.resolution_due_at, resolution=t.resolution,
            resolution_note=t.resolution_note, rating=t.rating,
            can_rate=t.status in _RATEABLE and t.rating is None, messages=messages))
    return out


# -- refund requests -----------------------------------------------------------------------


def _refuse_duplicate(held: HeldReceipt, cmd: ApplyForRefund) -> None:
    """A second undecided request for the same amount and reason is a double submit (a
    reloaded form, a second tap), not a new request: refuse it, pointing at the first."""
    try:
        wanted = Money.parse(cmd.amount, held.txn.currency).minor
    except InvalidInput:
        return  # intake reports the bad amount with its own code
    for case in held.cases:
        if (case.state in UNDECIDED and case.requested_minor == wanted
                and case.reason == cmd.reason.value):
            raise InvalidInput(f"request {case.case_number} for this amount is already open",
                               field=["amount"], code=ConsumerError.DUPLICATE_REQUEST)


async def apply_for_refund(uow: UnitOfWork, token: str, cmd: ApplyForRefund) -> PublicCase:
    """A refund request on the receipt's payment, judged by intake against the policy
    (window, partial, refundable amount, method, reason, evidence, the cap)."""
    held = await hold_receipt(uow, token)
    if cmd.idempotency_key is None:
        _refuse_duplicate(held, cmd)
    evidence = await uploads.evidence_for(uow, held, cmd.evidence_ids)
    case = await intake.submit(uow, intake.SubmitRefund(
        tenant_id=held.txn.tenant_id, transaction_id=held.txn.id, amount=cmd.amount,
        reason=cmd.reason, channel=cmd.channel, method=cmd.method,
        description=cmd.description, currency=cmd.currency, evidence=evidence,
        contact_phone=cmd.contact_phone, contact_email=cmd.contact_email,
        bank_destination=cmd.bank_destination, idempotency_key=cmd.idempotency_key))
    await uploads.attach(uow, held, cmd.evidence_ids, case.id)
    return await _case_view(uow, case, views.DEFAULT_LOCALE)


async def provide_info(uow: UnitOfWork, token: str, case_id: uuid.UUID, *, message: str,
                       locale: str | None = None,
                       evidence_ids: Sequence[uuid.UUID] = ()) -> PublicCase:
    """The consumer's answer to the merchant's question (AWAITING_INFO -> UNDER_REVIEW),
    with uploaded files as more evidence."""
    held = await hold_receipt(uow, token)
    case = _own_case(held, case_id)
    evidence = await uploads.evidence_for(uow, held, evidence_ids)
    case = await refunds.provide_info(uow, case.tenant_id, case.id, message=message)
    if evidence:
        await intake.add_evidence(uow, case, evidence)
        await uploads.attach(uow, held, evidence_ids, case.id)
    await uow.flush()
    return await _case_view(uow, case, views.locale_of(locale))


async def cancel(uow: UnitOfWork, token: str, case_id: uuid.UUID, *,
                 reason: str | None = None, locale: str | None = None) -> PublicCase:
    """Withdraw a request while it is undecided (SUBMITTED, UNDER_REVIEW, AWAITING_INFO)."""
    held = await hold_receipt(uow, token)
    case = _own_case(held, case_id)
    case = await refunds.cancel(uow, case.tenant_id, case.id, reason=reason)
    await uow.flush()
    return await _case_view(uow, case, views.locale_of(locale))


# -- complaints ----------------------------------------------------------------------------


async def _complaint_view(uow: UnitOfWork, ticket: ComplaintTicket) -> PublicComplaint:
    await uow.flush()
    return (await _complaint_views(uow, [ticket]))[0]


async def open_complaint(uow: UnitOfWork, token: str, cmd: FileComplaint) -> PublicComplaint:
    """A complaint about the receipt's payment, or about one of its refund cases."""
    held = await hold_receipt(uow, token)
    case_key = None
    if cmd.refund_case_id is not None:
        case = _own_case(held, cmd.refund_case_id, "refundCaseId")
        case_key = (case.tenant_id, case.id)
    ticket = await complaint_intake.open_ticket(uow, complaint_intake.OpenComplaint(
        category=cmd.category, description=cmd.description,
        transaction=(held.txn.tenant_id, held.txn.id), refund_case=case_key,
        channel=cmd.channel, contact_phone=cmd.contact_phone, contact_email=cmd.contact_email))
    return await _complaint_view(uow, ticket)


async def reply_to_complaint(uow: UnitOfWork, token: str, ticket_id: uuid.UUID, *,
                             message: str) -> PublicComplaint:
    held = await hold_receipt(uow, token)
    ticket = _own_ticket(held, ticket_id)
    ticket = await complaints.consumer_reply(uow, ticket.tenant_id, ticket.id, message=message)
    return await _complaint_view(uow, ticket)


async def rate_complaint(uow: UnitOfWork, token: str, ticket_id: uuid.UUID, *, rating: int,
                         comment: str | None = None) -> PublicComplaint:
    """1-5, once, after the complaint is resolved."""
    held = await hold_receipt(uow, token)
    ticket = _own_ticket(held, ticket_id)
    ticket = await complaints.rate(uow, ticket.tenant_id, ticket.id, rating=rating,
                                   comment=comment)
    return await _complaint_view(uow, ticket)
