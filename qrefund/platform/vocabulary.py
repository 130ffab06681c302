"""The refund vocabulary shared by policies, cases, payouts and the API (names clients rely
on: never renamed)."""

from __future__ import annotations

from enum import StrEnum


class RefundCaseStatus(StrEnum):
    SUBMITTED = "SUBMITTED"
    UNDER_REVIEW = "UNDER_REVIEW"
    AWAITING_INFO = "AWAITING_INFO"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"
    PROCESSING = "PROCESSING"
    REFUNDED = "REFUNDED"
    PAYOUT_FAILED = "PAYOUT_FAILED"


class RefundMethod(StrEnum):
    ORIGINAL_ROUTE = "ORIGINAL_ROUTE"
    BANK_TRANSFER = "BANK_TRANSFER"


class RefundReason(StrEnum):
    PAYMENT_FAILED_BUT_CHARGED = "PAYMENT_FAILED_BUT_CHARGED"
    AMOUNT_MISMATCH = "AMOUNT_MISMATCH"
    DUPLICATE_CHARGE = "DUPLICATE_CHARGE"
    QUALITY_ISSUE = "QUALITY_ISSUE"
    NOT_AS_DESCRIBED = "NOT_AS_DESCRIBED"
    NOT_RECEIVED = "NOT_RECEIVED"
    MUTUAL_AGREEMENT = "MUTUAL_AGREEMENT"
    OTHER = "OTHER"


class RequestChannel(StrEnum):
    POS_QR = "POS_QR"
    APP = "APP"
    PHONE = "PHONE"
    WEB = "WEB"
    API = "API"


class EvidenceType(StrEnum):
    PHOTO = "PHOTO"
    RECEIPT = "RECEIPT"
    SCREENSHOT = "SCREENSHOT"
    BANK_STATEMENT = "BANK_STATEMENT"
    CHAT_LOG = "CHAT_LOG"
    OTHER = "OTHER"


class SlaClock(StrEnum):
    """How SLA hours are counted: wall-clock hours, or working hours in the merchant's
    time zone (Mon-Fri, minus public holidays, plus official make-up working days)."""

    CALENDAR_HOURS = "CALENDAR_HOURS"
    BUSINESS_HOURS = "BUSINESS_HOURS"


class FeeBearer(StrEnum):
    MERCHANT = "MERCHANT"
    CONSUMER = "CONSUMER"
    SHARED = "SHARED"


class RiskFlag(StrEnum):
    """Signals computed at intake; auto-approval can require that none is raised."""

    REPEAT_REQUEST = "REPEAT_REQUEST"  # the transaction already has a live refund case
    BANK_TRANSFER = "BANK_TRANSFER"  # money would leave by a route other than the payment's
    FLAGGED_BY_SUBMITTER = "FLAGGED_BY_SUBMITTER"  # the integrator's own fraud signal
    # An anomaly rule raised a flag on the case or its payment (the case's ``flags`` say
    # which and why): always blocks auto-approval.
    ANOMALY = "ANOMALY"


class RiskRule(StrEnum):
    """The anomaly-detection rules (qrefund.platform.risk.rules); a policy's ``riskRules``
    tunes them per merchant."""

    DUPLICATE_CHARGE = "DUPLICATE_CHARGE"  # same payer, amount and terminal within minutes
    AMOUNT_MISMATCH = "AMOUNT_MISMATCH"  # charged amount differs from the integrator's
    REFUND_VELOCITY = "REFUND_VELOCITY"  # refunds per terminal/store/staff above the norm
    REFUNDS_EXCEED_SALES = "REFUNDS_EXCEED_SALES"  # the day's refunds beyond its net sales
    REPEATED_DESTINATION = "REPEATED_DESTINATION"  # many refunds to one account or contact
    CROSS_MERCHANT_CONTACT = "CROSS_MERCHANT_CONTACT"  # one contact at many of an agency's
    QUICK_REFUND = "QUICK_REFUND"  # minutes after paying, at a terminal refunding a lot
