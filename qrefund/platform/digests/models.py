"""One row per tenant and local day: the digest made for it, sent or quiet."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, ForeignKeyConstraint
from sqlmodel import Field, SQLModel

from qrefund.platform.sqltypes import created_at, tenant_pk, timestamp


class DigestStatus(StrEnum):
    QUIET = "QUIET"  # nothing to say: no e-mail, no event
    PENDING = "PENDING"  # the event is written; the e-mail (if any) not yet sent
    SENT = "SENT"
    NO_RECIPIENT = "NO_RECIPIENT"  # the event went out; no e-mail address is set
    FAILED = "FAILED"


class DailyDigest(SQLModel, table=True):
    """The primary key (tenant, day) makes a digest once per tenant-day, whatever runs twice."""

    __tablename__ = "daily_digests"
    __table_args__ = (ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),)

    tenant_id: uuid.UUID = tenant_pk()
    day: str = Field(primary_key=True, max_length=10)  # the tenant's local date, ISO
    status: str = Field(max_length=16)
    sections: list[dict[str, Any]] = Field(default_factory=list,
                                           sa_column=Column(JSON, nullable=False))
    recipient_masked: str | None = Field(default=None, max_length=120)
    error: str | None = Field(default=None, max_length=200)
    created_at: datetime = created_at()
    sent_at: datetime | None = timestamp()
