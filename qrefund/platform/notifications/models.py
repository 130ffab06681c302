"""Every message sent (or tried) to a consumer, as it was rendered.

Rows reference the refund case by (``tenant_id``, ``case_id``) without a foreign
key, so this table does not depend on the refunds migration; the recipient is
stored masked only (the full address stays encrypted on the case).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKeyConstraint, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from qrefund.platform.sqltypes import created_at, id_pk, tenant_pk, timestamp


class Channel(StrEnum):
    EMAIL = "EMAIL"
    SMS = "SMS"


class NotificationStatus(StrEnum):
    PENDING = "PENDING"
    SENT = "SENT"
    FAILED = "FAILED"


class Notification(SQLModel, table=True):
    __tablename__ = "notifications"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        # One message per (event, channel): a job run twice sends once.
        UniqueConstraint("tenant_id", "event_id", "channel", name="uq_notifications_event_channel"),
        Index("ix_notifications_case", "tenant_id", "case_id", "id"),
    )

    tenant_id: uuid.UUID = tenant_pk()
    id: uuid.UUID = id_pk()
    case_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str = Field(max_length=64)
    channel: str = Field(max_length=8)
    recipient_masked: str = Field(max_length=128)
    locale: str = Field(max_length=8)
    template: str = Field(max_length=64)
    subject: str | None = Field(default=None, max_length=300)
    body: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default=NotificationStatus.PENDING.value, max_length=16)
    provider: str | None = Field(default=None, max_length=32)
    provider_message_id: str | None = Field(default=None, max_length=200)
    attempts: int = Field(default=0)
    error: str | None = Field(default=None, max_length=500)
    sent_at: datetime | None = timestamp()
    created_at: datetime = created_at()
