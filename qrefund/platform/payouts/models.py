"""Payouts: one row per attempt to pay a refund case's money back."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKeyConstraint,
    Index,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

from qrefund.platform.money import Money
from qrefund.platform.refunds.models import RefundCase
from qrefund.platform.sqltypes import created_at as now_column
from qrefund.platform.sqltypes import id_pk, tenant_pk, timestamp

DESTINATION_PURPOSE = "payout.destination"
# A case is APPROVED only between its approval and its first payout's creation (one
# transaction moves it to PROCESSING); the payout sweep looks for cases stuck there.
AWAITING_PAYOUT = text("status = 'APPROVED'")


class PayoutStatus(StrEnum):
    PENDING = "PENDING"  # created; the channel may or may not have seen it yet
    PROCESSING = "PROCESSING"  # the channel accepted it and is still working: poll
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"  # the channel's final "no": a retry is a new attempt


class Payout(SQLModel, table=True):
    """One attempt. ``out_refund_no`` is the idempotency key sent to the channel: the
    same for every call of this attempt (so a repeated or concurrent call cannot pay
    twice), new for the next attempt (made only after this one FAILED for good)."""

    __tablename__ = "payouts"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        ForeignKeyConstraint(["tenant_id", "case_id"],
                             ["refund_cases.tenant_id", "refund_cases.id"]),
        UniqueConstraint("tenant_id", "case_id", "attempt", name="uq_payouts_attempt"),
        UniqueConstraint("tenant_id", "out_refund_no", name="uq_payouts_out_refund_no"),
        # The payout sweep: payouts that need a look (a poll, or a resume after a
        # lost job), across tenants; only live payouts have next_check_at.
        Index("ix_payouts_next_check", "next_check_at",
              postgresql_where=text("next_check_at IS NOT NULL"),
              sqlite_where=text("next_check_at IS NOT NULL")),
        # The daily reconciliation: payouts through a channel account, by last change.
        Index("ix_payouts_reconcile", "updated_at",
              postgresql_where=text("channel_account_id IS NOT NULL"),
              sqlite_where=text("channel_account_id IS NOT NULL")),
        # The refund-bill comparison: payouts through a channel account, by creation.
        Index("ix_payouts_bill_day", "created_at",
              postgresql_where=text("channel_account_id IS NOT NULL"),
              sqlite_where=text("channel_account_id IS NOT NULL")),
    )

    tenant_id: uuid.UUID = tenant_pk()
    id: uuid.UUID = id_pk()
    case_id: uuid.UUID
    attempt: int
    out_refund_no: str = Field(max_length=64)
    adapter: str = Field(max_length=32)
    # The payment channel account the attempt goes through (None: a registered adapter
    # such as the sandbox). Set once at creation: rotation changes the account's keys,
    # not which account an attempt belongs to.
    channel_account_id: uuid.UUID | None = Field(default=None)
    # Service-provider mode: the account belongs to the merchant's agency (its tenant
    # here) and the attempt went with the merchant's link (sub_mchid / app_auth_token).
    # Both None when the account is the merchant's own.
    channel_account_tenant_id: uuid.UUID | None = Field(default=None)
    channel_link_id: uuid.UUID | None = Field(default=None)
    # Reconciliation: the provider's records disagree with this attempt's final status
    # (None: they agree, or it was never checked). Set once, with a payout.discrepancy event.
    discrepancy: str | None = Field(default=None, max_length=300)
    reconciled_at: datetime | None = timestamp()
    method: str = Field(max_length=16)
    amount_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(max_length=3)
    status: str = Field(default=PayoutStatus.PENDING.value, max_length=16)
    destination_enc: str | None = Field(default=None, max_length=1024)
    destination_masked: str | None = Field(default=None, max_length=64)
    provider_refund_id: str | None = Field(default=None, max_length=128)
    failure_code: str | None = Field(default=None, max_length=64)
    failure_reason: str | None = Field(default=None, max_length=500)
    channel_calls: int = 0
    polls: int = 0
    next_check_at: datetime | None = timestamp()
    submitted_at: datetime | None = timestamp()
    completed_at: datetime | None = timestamp()
    created_by: str = Field(max_length=80)
    created_at: datetime = now_column()
    updated_at: datetime = now_column()

    @property
    def state(self) -> PayoutStatus:
        return PayoutStatus(self.status)

    @property
    def amount(self) -> Money:
        return Money(self.amount_minor, self.currency)


class PayoutEvent(SQLModel, table=True):
    """Append-only: one row per payout status change."""

    __tablename__ = "payout_events"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        ForeignKeyConstraint(["tenant_id", "payout_id"], ["payouts.tenant_id", "payouts.id"]),
        Index("ix_payout_events_payout", "tenant_id", "payout_id", "occurred_at"),
    )

    tenant_id: uuid.UUID = tenant_pk()
    id: uuid.UUID = id_pk()
    payout_id: uuid.UUID
    case_id: uuid.UUID
    from_status: str | None = Field(default=None, max_length=16)
    to_status: str = Field(max_length=16)
    actor: str = Field(max_length=80)
    note: str | None = Field(default=None, max_length=500)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    occurred_at: datetime = now_column()


# The payout sweep's rescue of approvals whose payout job was lost: APPROVED cases,
# oldest approval first, across tenants. Partial, so it holds only the few cases
# awaiting their payout however many cases there are. It sits on refund_cases but is
# declared here, next to the query that reads it (migration 0006).
_cases = RefundCase.__table__.c  # type: ignore[attr-defined]
Index("ix_refund_cases_awaiting_payout", _cases.approved_at, _cases.tenant_id, _cases.id,
      postgresql_where=AWAITING_PAYOUT, sqlite_where=AWAITING_PAYOUT)
