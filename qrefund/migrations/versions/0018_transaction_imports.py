"""transaction imports: uploaded files of payments recorded by a background job

Revision ID: 0018
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import qrefund.platform.sqltypes
from qrefund.migrations import rls

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _string(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    when = qrefund.platform.sqltypes.UTCDateTime
    op.create_table(
        "transaction_imports",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("format", _string(8), nullable=False),
        sa.Column("status", _string(16), nullable=False),
        sa.Column("file_name", _string(120), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("storage_key", _string(120), nullable=False),
        sa.Column("report_key", _string(120), nullable=True),
        sa.Column("rows_total", sa.Integer(), nullable=True),
        sa.Column("rows_done", sa.Integer(), nullable=False),
        sa.Column("rows_recorded", sa.Integer(), nullable=False),
        sa.Column("rows_failed", sa.Integer(), nullable=False),
        sa.Column("error", _string(300), nullable=True),
        sa.Column("requested_by", _string(80), nullable=False),
        sa.Column("created_at", when(timezone=True), nullable=False),
        sa.Column("started_at", when(timezone=True), nullable=True),
        sa.Column("finished_at", when(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
    )
    op.create_index("ix_transaction_imports_page", "transaction_imports",
                    ["tenant_id", "created_at", "id"])
    rls.enable("transaction_imports")


def downgrade() -> None:
    rls.disable("transaction_imports")
    op.drop_index("ix_transaction_imports_page", table_name="transaction_imports")
    op.drop_table("transaction_imports")
