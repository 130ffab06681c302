# ruff: noqa: RUF001 - Chinese text uses full-width punctuation on purpose
"""What a consumer holding a receipt is shown: plain, frozen views of the domain rows.

Built only from rows the receipt scope may read, and only from their public parts:
no staff names or key ids (an actor is shown as "you", "the merchant" or "the
platform"), no internal notes, no other consumer's data, contacts masked. The page
and the public GraphQL API render these views as they are.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from qrefund.platform.money import Money
from qrefund.platform.policies.terms import PolicyTerms

LOCALES = ("zh-CN", "en")
DEFAULT_LOCALE = "zh-CN"

# The timeline in plain words, per event type of a refund case. Types not listed
# (staff-only bookkeeping such as escalation notices to the agency) are left out.
_CASE_WORDS: dict[str, dict[str, str]] = {
    "submitted": {"zh-CN": "已提交退款申请", "en": "Refund request submitted"},
    "review_started": {"zh-CN": "商户开始审核", "en": "The merchant started reviewing it"},
    "info_requested": {"zh-CN": "商户请您补充信息", "en": "The merchant asked you for more "
                       "information"},
    "info_provided": {"zh-CN": "已补充信息", "en": "You provided the information"},
    "approved": {"zh-CN": "商户已同意退款", "en": "The merchant approved the refund"},
    "rejected": {"zh-CN": "商户未同意退款", "en": "The merchant declined the refund"},
    "cancelled": {"zh-CN": "退款申请已取消", "en": "The request was cancelled"},
    "processing": {"zh-CN": "正在退款", "en": "The refund is being paid"},
    "refunded": {"zh-CN": "退款已到账", "en": "The money is back"},
    "payout_failed": {"zh-CN": "退款支付未成功，商户将重新处理",
                      "en": "The payment of the refund failed; the merchant will retry"},
    "deadline_extended": {"zh-CN": "处理期限已延长", "en": "The deadline was extended"},
    "deadline_breached": {"zh-CN": "已超过处理期限，已提醒商户",
                          "en": "The deadline passed; the merchant has been reminded"},
}
# Event types whose note was written *to* the consumer (or by them): shown. Every
# other note (an approval remark, a staff comment) stays with the merchant.
_PUBLIC_NOTES = frozenset({"submitted", "info_requested", "info_provided", "rejected",
                           "deadline_extended", "cancelled"})


def case_words(event_type: str, locale: str) -> str | None:
    words = _CASE_WORDS.get(event_type)
    return None if words is None else words.get(locale, words["en"])


def public_note(event_type: str, note: str | None) -> str | None:
    return note if event_type in _PUBLIC_NOTES else None


def locale_of(value: str | None) -> str:
    """``zh-CN`` (the default) or ``en``; anything starting with ``en`` is English."""
    return "en" if (value or "").strip().lower().startswith("en") else DEFAULT_LOCALE


def who(actor: str) -> str:
    """An event's actor as the consumer may see it: never a key id or a staff name."""
    if actor == "receipt":
        return "CONSUMER"
    if actor.startswith("api_key:"):  # the merchant's staff or its integration
        return "MERCHANT"
    return "PLATFORM"  # jobs, auto-approval, the deadline sweep


@dataclass(frozen=True)
class PublicTransaction:
    id: uuid.UUID
    merchant_order_no: str
    channel: str
    status: str
    amount: Money
    refunded: Money
    refundable: Money
    paid_at: datetime
    payer_masked: str | None


@dataclass(frozen=True)
class FaqEntry:
    question: str
    answer: str


@dataclass(frozen=True)
class PublicPolicy:
    version: int
    locale: str
    refund_window_days: int
    refund_window_ends_at: datetime
    review_sla_hours: int
    completion_sla_hours: int
    allow_partial: bool
    max_refunds_per_transaction: int
    allowed_methods: tuple[str, ...]
    allowed_reasons: tuple[str, ...] | None  # None: every reason
    evidence_required_reasons: tuple[str, ...]
    conditions: str | None
    steps: str | None
    faq: tuple[FaqEntry, ...]


@dataclass(frozen=True)
class TimelineEntry:
    type: str
    text: str  # plain words in the receipt's locale
    actor: str  # CONSUMER | MERCHANT | PLATFORM
    status: str | None
    note: str | None  # only notes meant for the consumer
    occurred_at: datetime


@dataclass(frozen=True)
class PublicNotification:
    channel: str
    recipient_masked: str
    subject: str | None
    body: str
    status: str
    sent_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class PublicEvidence:
    id: uuid.UUID
    type: str
    filename: str
    size: int
    sha256: str


@dataclass(frozen=True)
class PublicCase:
    tenant_id: uuid.UUID  # the merchant (global ids name it)
    id: uuid.UUID
    case_number: str
    status: str
    requested: Money
    approved: Money | None
    reason: str
    method: str
    channel: str
    description: str | None
    created_at: datetime
    review_due_at: datetime
    completion_due_at: datetime
    info_request: str | None  # the merchant's open question while AWAITING_INFO
    can_cancel: bool
    can_provide_info: bool
    contact_phone: str | None  # masked
    contact_email: str | None  # masked
    timeline: tuple[TimelineEntry, ...]
    notifications: tuple[PublicNotification, ...]
    evidence: tuple[PublicEvidence, ...]


@dataclass(frozen=True)
class PublicMessage:
    body: str
    author: str  # CONSUMER | MERCHANT
    created_at: datetime


@dataclass(frozen=True)
class PublicComplaint:
    tenant_id: uuid.UUID
    id: uuid.UUID
    ticket_number: str
    status: str
    category: str
    description: str
    refund_case_id: uuid.UUID | None
    created_at: datetime
    first_response_due_at: datetime | None
    resolution_due_at: datetime | None
    resolution: str | None
    resolution_note: str | None
    rating: int | None
    can_rate: bool
    messages: tuple[PublicMessage, ...]


@dataclass(frozen=True)
class ReceiptView:
    merchant_name: str
    merchant_slug: str
    locale: str
    expires_at: datetime
    transaction: PublicTransaction
    policy: PublicPolicy
    refund_cases: tuple[PublicCase, ...]
    complaints: tuple[PublicComplaint, ...]
    terms: PolicyTerms  # the policy in force, whole (``policy`` is its consumer-facing part)
