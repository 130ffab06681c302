"""Domain events written in the same transaction as the change (the outbox)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, ForeignKeyConstraint, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from qrefund.platform.sqltypes import UTCDateTime, created_at, id_pk, tenant_pk


class TenantSequence(SQLModel, table=True):
    """Per-tenant counters (event sequence, case numbers): one row-locked UPDATE each."""

    __tablename__ = "tenant_sequences"
    __table_args__ = (ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),)

    tenant_id: uuid.UUID = tenant_pk()
    name: str = Field(primary_key=True, max_length=32)
    value: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class DomainEvent(SQLModel, table=True):
    __tablename__ = "domain_events"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        UniqueConstraint("tenant_id", "seq", name="uq_domain_events_seq"),
        Index("ix_domain_events_unrelayed", "relayed_at", "occurred_at"),
        # The events feed filtered by type or family: one tenant's matching events in
        # sequence order, without walking every event of the tenant (bench/events_feed.py).
        Index("ix_domain_events_tenant_type_seq", "tenant_id", "type", "seq"),
        Index("ix_domain_events_tenant_aggregate_seq", "tenant_id", "aggregate_type", "seq"),
    )

    tenant_id: uuid.UUID = tenant_pk()
    id: uuid.UUID = id_pk()
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    type: str = Field(max_length=64)
    aggregate_type: str = Field(max_length=32)
    aggregate_id: uuid.UUID
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    actor: str = Field(max_length=80)
    occurred_at: datetime = created_at()
    relayed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class IdempotencyRecord(SQLModel, table=True):
    """First result of a money-moving mutation, keyed by the caller's idempotency key."""

    __tablename__ = "idempotency_records"
    __table_args__ = (ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),)

    tenant_id: uuid.UUID = tenant_pk()
    operation: str = Field(primary_key=True, max_length=48)
    key: str = Field(primary_key=True, max_length=128)
    request_hash: str = Field(max_length=64)
    result_id: uuid.UUID
    created_at: datetime = created_at()
