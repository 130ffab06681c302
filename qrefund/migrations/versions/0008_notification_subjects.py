"""notifications name their subject (type and id), not a refund case

Revision ID: 0008
Revises: 0007

``notifications.case_id`` becomes ``subject_id`` beside a new ``subject_type``;
existing rows are refund-case messages: ("refund_case", case_id). The index of a
subject's messages keeps its columns (tenant_id, subject_id, id) under a new
name: ids are UUIDv7, so a subject id names one subject whatever its type.

PostgreSQL: a rename and a column with a constant default change only the
catalogue; nothing is rewritten. SQLite copies the table to drop the default.

Downgrade refuses while messages about other subjects exist (the old table has
no place for them): they are records of what consumers were sent, not derived
rows, so deleting them is left to the operator.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from qrefund.migrations.rls import is_postgres

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "notifications"
OLD_INDEX, NEW_INDEX = "ix_notifications_case", "ix_notifications_subject"


def upgrade() -> None:
    op.execute(f"ALTER TABLE {TABLE} RENAME COLUMN case_id TO subject_id")
    op.add_column(TABLE, sa.Column("subject_type", sqlmodel.sql.sqltypes.AutoString(length=24),
                                   nullable=False, server_default="refund_case"))
    if is_postgres():
        op.alter_column(TABLE, "subject_type", server_default=None)
        op.execute(f"ALTER INDEX {OLD_INDEX} RENAME TO {NEW_INDEX}")
        return
    op.drop_index(OLD_INDEX, TABLE)
    with op.batch_alter_table(TABLE, recreate="always") as batch:
        batch.alter_column("subject_type", server_default=None)
    op.create_index(NEW_INDEX, TABLE, ["tenant_id", "subject_id", "id"])


def downgrade() -> None:
    others = op.get_bind().execute(sa.text(
        f"SELECT count(*) FROM {TABLE} WHERE subject_type <> 'refund_case'")).scalar_one()
    if others:
        raise RuntimeError(
            f"{others} notifications are about subjects other than refund cases; the "
            "schema before 0008 cannot hold them. Export and delete them, then downgrade.")
    if is_postgres():
        op.execute(f"ALTER INDEX {NEW_INDEX} RENAME TO {OLD_INDEX}")
    else:
        op.drop_index(NEW_INDEX, TABLE)
    with op.batch_alter_table(TABLE) as batch:
        batch.drop_column("subject_type")
    op.execute(f"ALTER TABLE {TABLE} RENAME COLUMN subject_id TO case_id")
    if not is_postgres():
        op.create_index(OLD_INDEX, TABLE, ["tenant_id", "case_id", "id"])
