"""archived_records: closed refund cases and complaint tickets moved out of the live tables

Revision ID: 0021
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import qrefund.platform.sqltypes
from qrefund.migrations import rls

revision: str = "0021"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _string(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


# Event timelines stay append-only; retention alone may delete them, after copying them
# into archived_records in the same transaction, by setting qrefund.archiving for it.
APPEND_ONLY_ARCHIVABLE = """
CREATE OR REPLACE FUNCTION qrefund_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND coalesce(current_setting('qrefund.archiving', true), '') = 'on' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION '% rows are append-only', TG_TABLE_NAME;
END $$
"""
APPEND_ONLY_STRICT = """
CREATE OR REPLACE FUNCTION qrefund_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% rows are append-only', TG_TABLE_NAME;
END $$
"""


def upgrade() -> None:
    when = qrefund.platform.sqltypes.UTCDateTime
    op.create_table(
        "archived_records",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("subject_type", _string(32), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("number", _string(40), nullable=False),
        sa.Column("status", _string(24), nullable=False),
        sa.Column("closed_at", when(timezone=True), nullable=False),
        sa.Column("archived_at", when(timezone=True), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("tenant_id", "subject_type", "subject_id"),
    )
    op.create_index("ix_archived_records_archived", "archived_records",
                    ["tenant_id", "archived_at"])
    rls.enable("archived_records")
    if rls.is_postgres():
        op.execute(APPEND_ONLY_ARCHIVABLE)


def downgrade() -> None:
    if rls.is_postgres():
        op.execute(APPEND_ONLY_STRICT)
    rls.disable("archived_records")
    op.drop_index("ix_archived_records_archived", table_name="archived_records")
    op.drop_table("archived_records")
