"""Published refund policies: one immutable row per version.

``tenant_id`` is the owner: a merchant (its own policy) or an agency (a template
its merchants inherit until they publish their own). Publishing inserts a new
version; no code path updates or deletes a published row.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, ForeignKeyConstraint, UniqueConstraint
from sqlmodel import Field, SQLModel

from qrefund.platform.sqltypes import created_at, id_pk, tenant_pk


class RefundPolicy(SQLModel, table=True):
    __tablename__ = "refund_policies"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        UniqueConstraint("tenant_id", "version", name="uq_refund_policies_version"),
    )

    tenant_id: uuid.UUID = tenant_pk()
    id: uuid.UUID = id_pk()
    version: int
    owner_kind: str = Field(max_length=16)  # MERCHANT or AGENCY (template)
    refund_window_days: int
    review_sla_hours: int
    completion_sla_hours: int
    max_extension_hours: int
    allow_partial: bool
    max_refunds_per_transaction: int
    allowed_methods: list[str] = Field(sa_column=Column(JSON, nullable=False))
    # None: every reason is accepted.
    allowed_reasons: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    evidence_required_reasons: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    # Auto-approval is off while the maximum is None. The maximum is in the owner's
    # default currency; a request in another currency is never auto-approved.
    auto_approve_max_minor: int | None = Field(
        default=None, sa_column=Column(BigInteger, nullable=True)
    )
    auto_approve_currency: str | None = Field(default=None, max_length=3)
    auto_approve_reasons: list[str] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )
    auto_approve_requires_no_risk: bool = True
    fee_bearer: str = Field(max_length=16)
    sla_clock: str = Field(max_length=16)
    business_day_start_hour: int = 9
    business_day_end_hour: int = 18
    # {"zh-CN": {"conditions": str, "steps": str, "faq": [{"question", "answer"}]}, "en": {...}}
    consumer_text: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    # Complaint tickets: SLA hours per priority ({"LOW": 72, ...}), the days a resolved
    # ticket may be reopened, the days after which a resolved ticket closes itself. None
    # in versions published before these terms existed: the built-in defaults apply.
    complaint_first_response_hours: dict[str, int] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )
    complaint_resolution_hours: dict[str, int] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )
    complaint_reopen_window_days: int | None = None
    complaint_auto_close_days: int | None = None
    # Anomaly rules: {"<RiskRule>": {"enabled": bool, "threshold": number|null}}; a rule
    # left out (or the whole block None) runs with the built-in defaults.
    risk_rules: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    published_by: str = Field(max_length=80)
    published_at: datetime = created_at()
