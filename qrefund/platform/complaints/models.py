"""Complaint tickets, their message thread, their append-only timeline and attachment
metadata. ``tenant_id`` (the merchant) comes first in every key."""

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
    text,
)
from sqlmodel import Field, SQLModel, col

from qrefund.platform.complaints.vocabulary import ComplaintPriority, ComplaintStatus
from qrefund.platform.sqltypes import UTCDateTime, id_pk, tenant_pk, timestamp
from qrefund.platform.sqltypes import created_at as now_column

CONTACT_PHONE_PURPOSE = "complaint_ticket.contact_phone"
CONTACT_EMAIL_PURPOSE = "complaint_ticket.contact_email"
# Keyed fingerprints (HMAC) of the normalised contact: repeats are found without decrypting.
PHONE_FINGERPRINT_PURPOSE = "complaint_ticket.contact_phone_fp"
EMAIL_FINGERPRINT_PURPOSE = "complaint_ticket.contact_email_fp"

DESCRIPTION_MAX = 4000
BODY_MAX = 4000
NOTE_MAX = 2000
# Who opens the REFUND_DELAY ticket of a refund whose completion deadline escalated to
# level 2 (the job's actor): at most one such ticket per case (a partial unique index).
REFUND_DELAY_OPENER = "system:refund-delay"


def _ticket_fk(column: str, table: str = "complaint_tickets") -> ForeignKeyConstraint:
    return ForeignKeyConstraint(["tenant_id", column], [f"{table}.tenant_id", f"{table}.id"])


class ComplaintTicket(SQLModel, table=True):
    __tablename__ = "complaint_tickets"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        _ticket_fk("transaction_id", "transactions"),
        _ticket_fk("refund_case_id", "refund_cases"),
        _ticket_fk("follow_up_case_id", "refund_cases"),
        _ticket_fk("repeat_of_id"),
        UniqueConstraint("tenant_id", "ticket_number", name="uq_complaint_tickets_number"),
        Index("ix_complaint_tickets_created", "tenant_id", "created_at", "id"),
        Index("ix_complaint_tickets_next_due", "tenant_id", "next_due_at", "id"),
        Index("ix_complaint_tickets_status", "tenant_id", "status", "created_at", "id"),
        Index("ix_complaint_tickets_transaction", "tenant_id", "transaction_id", "created_at"),
        Index("ix_complaint_tickets_case", "tenant_id", "refund_case_id"),
        Index("ix_complaint_tickets_assignee", "tenant_id", "assignee"),
        Index("ix_complaint_tickets_team", "tenant_id", "team"),
        Index("ix_complaint_tickets_email_fp", "tenant_id", "contact_email_fp", "created_at"),
        Index("ix_complaint_tickets_phone_fp", "tenant_id", "contact_phone_fp", "created_at"),
        # Across merchants on purpose: a consumer's tickets may be anywhere (/my).
        Index("ix_complaint_tickets_contact_phone", "contact_phone_fp"),
        Index("ix_complaint_tickets_contact_email", "contact_email_fp"),
        # The auto-close job's look-up: only RESOLVED tickets carry auto_close_at.
        Index("ix_complaint_tickets_auto_close", "auto_close_at",
              postgresql_where=text("auto_close_at IS NOT NULL"),
              sqlite_where=text("auto_close_at IS NOT NULL")),
        Index("uq_complaint_tickets_refund_delay", "tenant_id", "refund_case_id", unique=True,
              postgresql_where=text(f"opened_by = '{REFUND_DELAY_OPENER}'"),
              sqlite_where=text(f"opened_by = '{REFUND_DELAY_OPENER}'")),
    )

    tenant_id: uuid.UUID = tenant_pk()
    id: uuid.UUID = id_pk()
    ticket_number: str = Field(max_length=32)
    # The payment complained about (the case's payment when a case is named).
    transaction_id: uuid.UUID
    refund_case_id: uuid.UUID | None = None
    status: str = Field(max_length=16)
    priority: str = Field(max_length=8)
    priority_reason: str | None = Field(default=None, max_length=500)
    category: str = Field(max_length=16)
    channel: str = Field(max_length=16)
    description: str = Field(max_length=DESCRIPTION_MAX)
    assignee: str | None = Field(default=None, max_length=80)
    team: str | None = Field(default=None, max_length=80)
    contact_phone_enc: str | None = Field(default=None, max_length=1024)
    contact_email_enc: str | None = Field(default=None, max_length=1024)
    contact_phone_fp: str | None = Field(default=None, max_length=64)
    contact_email_fp: str | None = Field(default=None, max_length=64)
    # The policy version whose complaint terms apply (stamped at opening, like cases).
    policy_tenant_id: uuid.UUID | None = None
    policy_id: uuid.UUID | None = None
    policy_version: int = 0
    # Deadlines. The first-response clock runs from opening until the first staff reply
    # to the consumer; the resolution clock from opening (or the last reopening,
    # sla_started_at) until resolution. WAITING_CUSTOMER pauses it: waiting_since marks
    # the pause, sla_paused_seconds the SLA time lost to pauses so far (working time
    # under a business-hours clock). next_due_at is the earliest running deadline (None
    # while paused or resolved): what "overdue" and the due-time sort read.
    first_response_due_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    resolution_due_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    first_responded_at: datetime | None = timestamp()
    sla_started_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    sla_paused_seconds: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    waiting_since: datetime | None = timestamp()
    next_due_at: datetime | None = timestamp()
    escalation_level: int = 0
    repeat_of_id: uuid.UUID | None = None
    resolution: str | None = Field(default=None, max_length=24)
    resolution_note: str | None = Field(default=None, max_length=NOTE_MAX)
    follow_up_case_id: uuid.UUID | None = None
    rating: int | None = None
    rating_comment: str | None = Field(default=None, max_length=1000)
    rated_at: datetime | None = timestamp()
    opened_by: str = Field(max_length=80)
    event_count: int = 0
    reopen_count: int = 0
    created_at: datetime = now_column()
    updated_at: datetime = now_column()
    resolved_at: datetime | None = timestamp()
    closed_at: datetime | None = timestamp()
    reopened_at: datetime | None = timestamp()
    # A RESOLVED ticket closes itself at this instant unless someone writes first.
    auto_close_at: datetime | None = timestamp()

    @property
    def state(self) -> ComplaintStatus:
        return ComplaintStatus(self.status)

    @property
    def level(self) -> ComplaintPriority:
        return ComplaintPriority(self.priority)

    @property
    def key(self) -> tuple[uuid.UUID, uuid.UUID]:
        return self.tenant_id, self.id


class ComplaintMessage(SQLModel, table=True):
    """One message of a ticket's thread: a reply the consumer sees, the consumer's own
    words, or an internal note (``internal``) that never leaves staff views."""

    __tablename__ = "complaint_messages"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        _ticket_fk("ticket_id"),
        Index("ix_complaint_messages_ticket", "tenant_id", "ticket_id", "created_at"),
    )

    tenant_id: uuid.UUID = tenant_pk()
    id: uuid.UUID = id_pk()
    ticket_id: uuid.UUID
    body: str = Field(max_length=BODY_MAX)
    internal: bool = False
    author: str = Field(max_length=80)
    author_kind: str = Field(max_length=16)
    created_at: datetime = now_column()


class ComplaintEvent(SQLModel, table=True):
    """Append-only timeline entry: one per transition and per note-worthy step.
    ``internal`` entries (notes, priority reasons) are shown to staff only."""

    __tablename__ = "complaint_events"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        _ticket_fk("ticket_id"),
        UniqueConstraint("tenant_id", "ticket_id", "seq", name="uq_complaint_events_seq"),
    )

    tenant_id: uuid.UUID = tenant_pk()
    id: uuid.UUID = id_pk()
    ticket_id: uuid.UUID
    seq: int
    type: str = Field(max_length=48)
    from_status: str | None = Field(default=None, max_length=16)
    to_status: str | None = Field(default=None, max_length=16)
    actor: str = Field(max_length=80)
    note: str | None = Field(default=None, max_length=NOTE_MAX)
    internal: bool = False
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    occurred_at: datetime = now_column()


class ComplaintAttachment(SQLModel, table=True):
    """Metadata of a file the consumer attached; the bytes live elsewhere."""

    __tablename__ = "complaint_attachments"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        _ticket_fk("ticket_id"),
        Index("ix_complaint_attachments_ticket", "tenant_id", "ticket_id"),
    )

    tenant_id: uuid.UUID = tenant_pk()
    id: uuid.UUID = id_pk()
    ticket_id: uuid.UUID
    type: str = Field(max_length=16)
    filename: str = Field(max_length=200)
    size_bytes: int = Field(sa_column=Column(BigInteger, nullable=False))
    sha256: str = Field(max_length=64)
    created_at: datetime = now_column()


def is_repeat_of() -> Any:
    """``ComplaintTicketType.is_repeat`` (a repeat names the ticket it repeats) as a
    column expression, for JSON built in SQL."""
    return col(ComplaintTicket.repeat_of_id).is_not(None)
