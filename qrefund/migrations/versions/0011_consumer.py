"""evidence files uploaded by consumers (the consumer channel)

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import qrefund.platform.sqltypes
from qrefund.migrations import rls

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _string(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "evidence_files",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("transaction_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=True),
        sa.Column("type", _string(16), nullable=False),
        sa.Column("content_type", _string(32), nullable=False),
        sa.Column("filename", _string(200), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", _string(64), nullable=False),
        sa.Column("storage_key", _string(80), nullable=False),
        sa.Column("created_at", qrefund.platform.sqltypes.UTCDateTime(timezone=True),
                  nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.ForeignKeyConstraint(["tenant_id", "transaction_id"],
                                ["transactions.tenant_id", "transactions.id"]),
        sa.ForeignKeyConstraint(["tenant_id", "case_id"],
                                ["refund_cases.tenant_id", "refund_cases.id"]),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
    )
    with op.batch_alter_table("evidence_files", schema=None) as batch_op:
        batch_op.create_index("ix_evidence_files_transaction",
                              ["tenant_id", "transaction_id", "created_at"], unique=False)
    rls.enable("evidence_files")


def downgrade() -> None:
    rls.disable("evidence_files")
    with op.batch_alter_table("evidence_files", schema=None) as batch_op:
        batch_op.drop_index("ix_evidence_files_transaction")
    op.drop_table("evidence_files")
