"""The import record: the file uploaded, how far its job got, and its error report."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column, ForeignKeyConstraint, Index
from sqlmodel import Field, SQLModel

from qrefund.platform.sqltypes import created_at, id_pk, tenant_pk, timestamp


class ImportFormat(StrEnum):
    CSV = "CSV"
    JSONL = "JSONL"


class ImportStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"  # every row read; some may be in the error report
    FAILED = "FAILED"  # the file as a whole was refused, or the job failed


class TransactionImport(SQLModel, table=True):
    """One uploaded file of one merchant's payments, owned by that merchant (so its
    agency and the operator see it too, and nobody else)."""

    __tablename__ = "transaction_imports"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        Index("ix_transaction_imports_page", "tenant_id", "created_at", "id"),
    )

    tenant_id: uuid.UUID = tenant_pk()
    id: uuid.UUID = id_pk()
    format: str = Field(max_length=8)
    status: str = Field(default=ImportStatus.PENDING.value, max_length=16)
    file_name: str | None = Field(default=None, max_length=120)
    size_bytes: int = Field(sa_column=Column(BigInteger, nullable=False))
    storage_key: str = Field(max_length=120)
    report_key: str | None = Field(default=None, max_length=120)
    rows_total: int | None = None  # lines counted at upload; rows read once finished
    rows_done: int = 0
    rows_recorded: int = 0
    rows_failed: int = 0
    error: str | None = Field(default=None, max_length=300)
    requested_by: str = Field(max_length=80)
    created_at: datetime = created_at()
    started_at: datetime | None = timestamp()
    finished_at: datetime | None = timestamp()
