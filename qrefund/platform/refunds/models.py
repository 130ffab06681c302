"""Refund cases, their append-only timeline and their evidence metadata."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKeyConstraint,
    Index,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from qrefund.platform.money import Money
from qrefund.platform.sqltypes import UTCDateTime, id_pk, tenant_pk, timestamp
from qrefund.platform.sqltypes import created_at as now_column
from qrefund.platform.vocabulary import (
    EvidenceType,
    FeeBearer,
    RefundCaseStatus,
    RefundMethod,
    RefundReason,
    RequestChannel,
    RiskFlag,
    SlaClock,
)

CONTACT_PHONE_PURPOSE = "refund_case.contact_phone"
CONTACT_EMAIL_PURPOSE = "refund_case.contact_email"
# Keyed fingerprints (HMAC) of the normalised contact (qrefund.platform.otp.Contact):
# "my refunds" finds a contact's cases across merchants without decrypting any.
PHONE_FINGERPRINT_PURPOSE = "refund_case.contact_phone_fp"
EMAIL_FINGERPRINT_PURPOSE = "refund_case.contact_email_fp"
BANK_DESTINATION_PURPOSE = "refund_case.bank_destination"
BANK_DESTINATION_FINGERPRINT_PURPOSE = "refund_case.bank_destination_fp"

_UNDECIDED = frozenset(
    {RefundCaseStatus.SUBMITTED, RefundCaseStatus.UNDER_REVIEW, RefundCaseStatus.AWAITING_INFO}
)
_PAYING = frozenset(
    {RefundCaseStatus.APPROVED, RefundCaseStatus.PROCESSING, RefundCaseStatus.PAYOUT_FAILED}
)


class RefundCase(SQLModel, table=True):
    __tablename__ = "refund_cases"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        ForeignKeyConstraint(
            ["tenant_id", "transaction_id"], ["transactions.tenant_id", "transactions.id"]
        ),
        UniqueConstraint("tenant_id", "case_number", name="uq_refund_cases_number"),
        Index("ix_refund_cases_created", "tenant_id", "created_at", "id"),
        Index("ix_refund_cases_next_due", "tenant_id", "next_due_at", "id"),
        Index("ix_refund_cases_transaction", "tenant_id", "transaction_id"),
        # Across merchants on purpose: a consumer's cases may be anywhere (/my).
        Index("ix_refund_cases_phone_fp", "contact_phone_fp"),
        Index("ix_refund_cases_email_fp", "contact_email_fp"),
        Index("ix_refund_cases_destination_fp", "tenant_id", "bank_destination_fp"),
    )

    tenant_id: uuid.UUID = tenant_pk()
    id: uuid.UUID = id_pk()
    case_number: str = Field(max_length=32)
    transaction_id: uuid.UUID
    status: str = Field(max_length=16)
    requested_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    approved_minor: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    currency: str = Field(max_length=3)
    reason: str = Field(max_length=32)
    channel: str = Field(max_length=16)
    method: str = Field(max_length=16)
    description: str | None = Field(default=None, max_length=2000)
    risk_flags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # The policy version the case is judged under (version 0 = built-in defaults,
    # policy_id None); policy_tenant_id is the merchant or its agency (template).
    policy_tenant_id: uuid.UUID | None = None
    policy_id: uuid.UUID | None = None
    policy_version: int = 0
    # Extension time already granted, against the policy's maximum for the case.
    extension_used_minutes: int = 0
    # Deadlines. review_due_at moves forward by the time spent in AWAITING_INFO
    # and by extensions; completion_due_at is counted from submission (the money is
    # back within N hours of the request) and moves with the same pauses/extensions.
    review_due_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    completion_due_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    review_paused_at: datetime | None = timestamp()
    # The deadline whose clock is running now (review while undecided, completion
    # while being paid out, none while paused or closed): what "overdue" and the
    # due-time sort read.
    next_due_at: datetime | None = timestamp()
    extension_notice_due_at: datetime | None = timestamp()
    escalation_level: int = 0
    assignee: str | None = Field(default=None, max_length=80)
    decision_note: str | None = Field(default=None, max_length=2000)
    payout_failure_reason: str | None = Field(default=None, max_length=500)
    contact_phone_enc: str | None = Field(default=None, max_length=1024)
    contact_email_enc: str | None = Field(default=None, max_length=1024)
    contact_phone_fp: str | None = Field(default=None, max_length=64)
    contact_email_fp: str | None = Field(default=None, max_length=64)
    bank_destination_enc: str | None = Field(default=None, max_length=1024)
    # Keyed fingerprint of the normalised destination account (the anomaly rules count
    # refunds to one account without decrypting any).
    bank_destination_fp: str | None = Field(default=None, max_length=64)
    submitted_by: str = Field(max_length=80)
    event_count: int = 0
    created_at: datetime = now_column()
    updated_at: datetime = now_column()
    review_started_at: datetime | None = timestamp()
    info_requested_at: datetime | None = timestamp()
    approved_at: datetime | None = timestamp()
    rejected_at: datetime | None = timestamp()
    cancelled_at: datetime | None = timestamp()
    processing_at: datetime | None = timestamp()
    refunded_at: datetime | None = timestamp()
    payout_failed_at: datetime | None = timestamp()

    @property
    def state(self) -> RefundCaseStatus:
        return RefundCaseStatus(self.status)

    @property
    def requested(self) -> Money:
        return Money(self.requested_minor, self.currency)

    @property
    def held_minor(self) -> int:
        """What this case holds in its transaction's ``reserved_minor``.

        The requested amount is reserved at submission (so eligibility is one check
        under the transaction's row lock); approval shrinks it to the approved amount;
        closing without payment releases it; a completed payout moves it to refunded.
        """
        state = self.state
        if state in _UNDECIDED:
            return self.requested_minor
        if state in _PAYING:
            return self.approved_minor or 0
        return 0

    @property
    def is_live(self) -> bool:
        """Counts against the per-transaction cap (not rejected or cancelled)."""
        return self.state not in (RefundCaseStatus.REJECTED, RefundCaseStatus.CANCELLED)


class RefundCaseEvent(SQLModel, table=True):
    """Append-only timeline entry: one per transition (and per note-worthy event)."""

    __tablename__ = "refund_case_events"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        ForeignKeyConstraint(
            ["tenant_id", "case_id"], ["refund_cases.tenant_id", "refund_cases.id"]
        ),
        UniqueConstraint("tenant_id", "case_id", "seq", name="uq_refund_case_events_seq"),
    )

    tenant_id: uuid.UUID = tenant_pk()
    id: uuid.UUID = id_pk()
    case_id: uuid.UUID
    seq: int
    type: str = Field(max_length=48)
    from_status: str | None = Field(default=None, max_length=16)
    to_status: str | None = Field(default=None, max_length=16)
    actor: str = Field(max_length=80)
    note: str | None = Field(default=None, max_length=2000)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    occurred_at: datetime = now_column()


class RefundEvidence(SQLModel, table=True):
    """Metadata of a file the consumer provided; the bytes live elsewhere."""

    __tablename__ = "refund_evidence"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        ForeignKeyConstraint(
            ["tenant_id", "case_id"], ["refund_cases.tenant_id", "refund_cases.id"]
        ),
        Index("ix_refund_evidence_case", "tenant_id", "case_id"),
    )

    tenant_id: uuid.UUID = tenant_pk()
    id: uuid.UUID = id_pk()
    case_id: uuid.UUID
    type: str = Field(max_length=16)
    filename: str = Field(max_length=200)
    size_bytes: int = Field(sa_column=Column(BigInteger, nullable=False))
    sha256: str = Field(max_length=64)
    created_at: datetime = now_column()


__all__ = [
    "BANK_DESTINATION_FINGERPRINT_PURPOSE",
    "BANK_DESTINATION_PURPOSE",
    "CONTACT_EMAIL_PURPOSE",
    "CONTACT_PHONE_PURPOSE",
    "EvidenceType",
    "FeeBearer",
    "RefundCase",
    "RefundCaseEvent",
    "RefundCaseStatus",
    "RefundEvidence",
    "RefundMethod",
    "RefundReason",
    "RequestChannel",
    "RiskFlag",
    "SlaClock",
]
