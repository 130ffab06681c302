"""The export record: what was asked for, how far the job got, and where the file is."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, ForeignKeyConstraint
from sqlmodel import Field, SQLModel

from qrefund.platform.sqltypes import UTCDateTime, created_at, id_pk, tenant_pk, timestamp


class ExportKind(StrEnum):
    REFUND_CASES = "REFUND_CASES"
    TRANSACTIONS = "TRANSACTIONS"


class ExportFormat(StrEnum):
    CSV = "CSV"
    JSONL = "JSONL"


class ExportStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class Export(SQLModel, table=True):
    """One export, owned by the tenant whose key asked for it (a merchant, an agency or
    the operator); ``merchant_ids`` are the merchants it covers, each checked against
    the caller's scope when it was asked for."""

    __tablename__ = "exports"
    __table_args__ = (ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),)

    tenant_id: uuid.UUID = tenant_pk()
    id: uuid.UUID = id_pk()
    kind: str = Field(max_length=16)
    format: str = Field(max_length=8)
    status: str = Field(default=ExportStatus.PENDING.value, max_length=16)
    merchant_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    period_from: datetime = Field(sa_type=UTCDateTime, nullable=False)
    period_to: datetime = Field(sa_type=UTCDateTime, nullable=False)
    filters: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    rows_done: int = 0
    rows_total: int | None = None
    size_bytes: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    storage_key: str | None = Field(default=None, max_length=80)
    error: str | None = Field(default=None, max_length=200)
    requested_by: str = Field(max_length=80)
    created_at: datetime = created_at()
    started_at: datetime | None = timestamp()
    finished_at: datetime | None = timestamp()
