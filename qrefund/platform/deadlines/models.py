"""Deadline timers (what the sweep looks at) and merchants' escalation contacts."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKeyConstraint, Index, text
from sqlmodel import Field, SQLModel

from qrefund.platform.sqltypes import UTCDateTime, tenant_pk, timestamp
from qrefund.platform.sqltypes import created_at as now_column


class DeadlineTimer(SQLModel, table=True):
    """One named deadline of a subject (a refund case's ``sla``; a complaint ticket
    may run ``first_response`` and ``resolution`` at once).

    A derived index, kept in step with the subject by the deadline jobs: the
    subject row stays the truth (the sweep re-reads it before acting). It exists
    so the sweep's query is ``next_check_at <= now`` on a partial index — its cost
    grows with the number of timers due, not the number of open cases — and to
    remember what was done about this deadline (warned, breached, escalations).
    """

    __tablename__ = "deadline_timers"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        Index("ix_deadline_timers_next_check", "next_check_at",
              postgresql_where=text("next_check_at IS NOT NULL"),
              sqlite_where=text("next_check_at IS NOT NULL")),
    )

    tenant_id: uuid.UUID = tenant_pk()
    subject_type: str = Field(primary_key=True, max_length=24)
    subject_id: uuid.UUID = Field(primary_key=True)
    # Which of the subject's timers (a subject may run several deadlines at once).
    name: str = Field(primary_key=True, max_length=24)
    kind: str = Field(max_length=24)  # which deadline: review, completion, ...
    started_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    due_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    warn_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    warned_at: datetime | None = timestamp()
    breached_at: datetime | None = timestamp()
    escalations: int = 0  # escalation steps taken for this deadline (breach = 1)
    # When the sweep must look next; None = nothing to do (paused or closed).
    next_check_at: datetime | None = timestamp()
    failures: int = 0  # sweep attempts that raised (the timer backs off meanwhile)
    updated_at: datetime = now_column()


class EscalationContact(SQLModel, table=True):
    """Who a tenant's overdue cases are reassigned to (an agency's applies to its
    merchants that have none of their own)."""

    __tablename__ = "escalation_contacts"
    __table_args__ = (ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),)

    tenant_id: uuid.UUID = tenant_pk()
    assignee: str = Field(max_length=80)
    updated_by: str = Field(max_length=80)
    updated_at: datetime = now_column()
