"""Every message sent (or tried) to a consumer, as it was rendered.

Rows name what they are about by (``subject_type``, ``subject_id``) — a refund
case, later a complaint ticket — without a foreign key, so this table depends on
no other domain's; the recipient is stored masked only (the full address stays
encrypted on the subject).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKeyConstraint, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from qrefund.platform.sqltypes import created_at, id_pk, tenant_pk, timestamp

REFUND_CASE = "refund_case"  # the subject type of refund cases' messages


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
        # A subject's messages (ids are UUIDv7: a subject id is unique across types).
        Index("ix_notifications_subject", "tenant_id", "subject_id", "id"),
    )

    tenant_id: uuid.UUID = tenant_pk()
    id: uuid.UUID = id_pk()
    subject_type: str = Field(max_length=24)  # "refund_case", ...
    subject_id: uuid.UUID
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

    @property
    def case_id(self) -> uuid.UUID | None:
        """The refund case a refund-case message is about (GraphQL's
        ``Notification.caseId``, older than subjects); None for other subjects."""
        return self.subject_id if self.subject_type == REFUND_CASE else None
