"""Webhook endpoints, one delivery per (endpoint, event), and the log of attempts.

A delivery belongs to the endpoint's tenant (an agency endpoint's deliveries are
the agency's rows even when the event is a merchant's), so row-level security
and ``tenant_id``-first keys hold; the event is referenced by
(``event_tenant_id``, ``event_id``) without a foreign key, because the two rows
may live on different tenants (and so on different Citus shards).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, ForeignKeyConstraint, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from qrefund.platform.sqltypes import created_at, id_pk, tenant_pk, timestamp


class EndpointStatus(StrEnum):
    ACTIVE = "ACTIVE"
    DISABLED = "DISABLED"


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"  # due now (first attempt, or a manual redelivery)
    SENDING = "SENDING"  # claimed by a worker; next_attempt_at is the lease's end
    RETRYING = "RETRYING"  # last attempt failed; next_attempt_at is the next try
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"  # retries exhausted (about three days)
    CANCELLED = "CANCELLED"  # the endpoint was disabled before it could be sent


class AttemptOutcome(StrEnum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    ABANDONED = "ABANDONED"  # the worker stopped before it recorded a result


class AttemptTrigger(StrEnum):
    AUTOMATIC = "AUTOMATIC"
    MANUAL = "MANUAL"


class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoints"
    __table_args__ = (ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),)

    tenant_id: uuid.UUID = tenant_pk()
    id: uuid.UUID = id_pk()
    url: str = Field(max_length=2048)
    description: str | None = Field(default=None, max_length=200)
    event_types: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # For agency (or operator) endpoints: only this merchant's events. None = all in reach.
    merchant_id: uuid.UUID | None = Field(default=None)
    status: str = Field(default=EndpointStatus.ACTIVE.value, max_length=16)
    secret_enc: str = Field(max_length=1024)
    # During a rotation's overlap window deliveries are signed with both secrets.
    previous_secret_enc: str | None = Field(default=None, max_length=1024)
    previous_secret_expires_at: datetime | None = timestamp()
    secret_rotated_at: datetime | None = timestamp()
    consecutive_failures: int = Field(default=0)
    failing_since: datetime | None = timestamp()
    last_success_at: datetime | None = timestamp()
    disabled_at: datetime | None = timestamp()
    disabled_reason: str | None = Field(default=None, max_length=200)
    created_at: datetime = created_at()
    created_by: str = Field(max_length=80)


class WebhookDelivery(SQLModel, table=True):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        ForeignKeyConstraint(
            ["tenant_id", "endpoint_id"], ["webhook_endpoints.tenant_id", "webhook_endpoints.id"]
        ),
        # One delivery per (endpoint, event): fanning an event out twice adds nothing.
        UniqueConstraint(
            "tenant_id", "endpoint_id", "event_id", name="uq_webhook_deliveries_event"
        ),
        Index("ix_webhook_deliveries_page", "tenant_id", "endpoint_id", "id"),
        # The retry sweep's query: only unfinished deliveries have a next_attempt_at.
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("next_attempt_at IS NOT NULL"),
            sqlite_where=text("next_attempt_at IS NOT NULL"),
        ),
    )

    tenant_id: uuid.UUID = tenant_pk()
    id: uuid.UUID = id_pk()
    endpoint_id: uuid.UUID
    event_tenant_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str = Field(max_length=64)
    # The envelope as first rendered: every attempt sends the same JSON.
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=DeliveryStatus.PENDING.value, max_length=16)
    attempts: int = Field(default=0)
    next_attempt_at: datetime | None = timestamp()
    give_up_at: datetime = timestamp(nullable=False)
    manual_requested: bool = Field(default=False)
    last_attempt_at: datetime | None = timestamp()
    last_status_code: int | None = Field(default=None)
    last_latency_ms: int | None = Field(default=None)
    last_error: str | None = Field(default=None, max_length=500)
    delivered_at: datetime | None = timestamp()
    created_at: datetime = created_at()


class WebhookDeliveryAttempt(SQLModel, table=True):
    """Append-only: one row per HTTP attempt, written once its outcome is known."""

    __tablename__ = "webhook_delivery_attempts"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        ForeignKeyConstraint(
            ["tenant_id", "delivery_id"], ["webhook_deliveries.tenant_id", "webhook_deliveries.id"]
        ),
        UniqueConstraint("tenant_id", "delivery_id", "number", name="uq_webhook_attempts_number"),
    )

    tenant_id: uuid.UUID = tenant_pk()
    id: uuid.UUID = id_pk()
    delivery_id: uuid.UUID
    number: int
    trigger: str = Field(max_length=16)
    outcome: str = Field(max_length=16)
    status_code: int | None = Field(default=None)
    latency_ms: int | None = Field(default=None)
    error: str | None = Field(default=None, max_length=500)
    response_excerpt: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    started_at: datetime = timestamp(nullable=False)
    created_at: datetime = created_at()
