"""Risk flags: what a rule found about a payment or a refund case, and the review of it."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, ForeignKeyConstraint, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from qrefund.platform.sqltypes import created_at as now_column
from qrefund.platform.sqltypes import id_pk, tenant_pk, timestamp


class FlagStatus(StrEnum):
    OPEN = "OPEN"
    DISMISSED = "DISMISSED"  # reviewed: a false alarm (counts towards loosening the rule)
    CONFIRMED = "CONFIRMED"  # reviewed: a real anomaly


class FlagSeverity(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


class SubjectType(StrEnum):
    TRANSACTION = "TRANSACTION"
    REFUND_CASE = "REFUND_CASE"


class RiskFlagRecord(SQLModel, table=True):
    """One rule's finding about one subject: unique per (subject, rule), so running a rule
    again (on the next request, in the periodic scan) never makes a second flag."""

    __tablename__ = "risk_flags"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        UniqueConstraint("tenant_id", "subject_type", "subject_id", "rule",
                         name="uq_risk_flags_subject_rule"),
        Index("ix_risk_flags_list", "tenant_id", "created_at", "id"),
        Index("ix_risk_flags_transaction", "tenant_id", "transaction_id"),
        Index("ix_risk_flags_case", "tenant_id", "refund_case_id"),
        Index("ix_risk_flags_feedback", "tenant_id", "rule", "status", "reviewed_at"),
    )

    tenant_id: uuid.UUID = tenant_pk()
    id: uuid.UUID = id_pk()
    subject_type: str = Field(max_length=16)
    subject_id: uuid.UUID
    # The payment concerned (for a case: its payment), and the case when the subject is one.
    transaction_id: uuid.UUID | None = None
    refund_case_id: uuid.UUID | None = None
    rule: str = Field(max_length=32)
    severity: str = Field(max_length=8)
    score: int  # 0..100
    # The related rows: {"transactions": [ids], "refundCases": [ids]} plus the measured
    # figures ({"observed": .., "threshold": ..}); never a personal value.
    evidence: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=FlagStatus.OPEN.value, max_length=16)
    reviewer: str | None = Field(default=None, max_length=80)
    note: str | None = Field(default=None, max_length=2000)
    created_at: datetime = now_column()
    updated_at: datetime = now_column()
    reviewed_at: datetime | None = timestamp()
    # When a rule last found it again (a re-run refreshes evidence and score, not status).
    last_seen_at: datetime = now_column()
