"""exports: files of refund cases or transactions written by a background job

Revision ID: 0016
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import qrefund.platform.sqltypes
from qrefund.migrations import rls

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _string(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    when = qrefund.platform.sqltypes.UTCDateTime
    op.create_table(
        "exports",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", _string(16), nullable=False),
        sa.Column("format", _string(8), nullable=False),
        sa.Column("status", _string(16), nullable=False),
        sa.Column("merchant_ids", sa.JSON(), nullable=False),
        sa.Column("period_from", when(timezone=True), nullable=False),
        sa.Column("period_to", when(timezone=True), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("rows_done", sa.Integer(), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("storage_key", _string(80), nullable=True),
        sa.Column("error", _string(200), nullable=True),
        sa.Column("requested_by", _string(80), nullable=False),
        sa.Column("created_at", when(timezone=True), nullable=False),
        sa.Column("started_at", when(timezone=True), nullable=True),
        sa.Column("finished_at", when(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
    )
    rls.enable("exports")


def downgrade() -> None:
    rls.disable("exports")
    op.drop_table("exports")
