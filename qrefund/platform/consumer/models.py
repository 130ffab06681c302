"""Evidence files a consumer uploaded: the stored bytes' metadata, per payment.

A file is uploaded first (``case_id`` None) and attached to a refund case when the
consumer applies or answers a question; attaching also writes the case's
:class:`~qrefund.platform.refunds.models.RefundEvidence` row with the same id, so
staff reach the bytes from the case's evidence. The bytes live in the evidence
store (``QREFUND_UPLOAD_DIR``) under ``storage_key``, a random name that is never a
URL: files are served only through signed, expiring links.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Column, ForeignKeyConstraint, Index
from sqlmodel import Field, SQLModel

from qrefund.platform.sqltypes import created_at as now_column
from qrefund.platform.sqltypes import id_pk, tenant_pk


class EvidenceFile(SQLModel, table=True):
    __tablename__ = "evidence_files"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        ForeignKeyConstraint(
            ["tenant_id", "transaction_id"], ["transactions.tenant_id", "transactions.id"]
        ),
        ForeignKeyConstraint(["tenant_id", "case_id"], ["refund_cases.tenant_id",
                                                        "refund_cases.id"]),
        Index("ix_evidence_files_transaction", "tenant_id", "transaction_id", "created_at"),
    )

    tenant_id: uuid.UUID = tenant_pk()
    id: uuid.UUID = id_pk()
    transaction_id: uuid.UUID
    case_id: uuid.UUID | None = None
    type: str = Field(max_length=16)  # EvidenceType
    content_type: str = Field(max_length=32)  # judged from the content
    filename: str = Field(max_length=200)
    size_bytes: int = Field(sa_column=Column(BigInteger, nullable=False))
    sha256: str = Field(max_length=64)  # of the stored (re-encoded) bytes
    storage_key: str = Field(max_length=80)
    created_at: datetime = now_column()
