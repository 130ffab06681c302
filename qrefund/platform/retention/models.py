"""The archive: a closed refund case or complaint ticket with every row that hung off it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKeyConstraint, Index
from sqlmodel import Field, SQLModel

from qrefund.platform.sqltypes import UTCDateTime, tenant_pk


class ArchivedRecord(SQLModel, table=True):
    """One archived subject. ``document`` holds its rows and its children's rows, table
    by table, exactly as they were (ciphertexts stay ciphertexts); the subject keeps
    its id, so its global id still names it (``archivedRecord(id)``)."""

    __tablename__ = "archived_records"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        Index("ix_archived_records_archived", "tenant_id", "archived_at"),
    )

    tenant_id: uuid.UUID = tenant_pk()
    subject_type: str = Field(primary_key=True, max_length=32)  # RefundCase, ComplaintTicket
    subject_id: uuid.UUID = Field(primary_key=True)
    number: str = Field(max_length=40)  # the case or ticket number
    status: str = Field(max_length=24)
    closed_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    archived_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    document: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
