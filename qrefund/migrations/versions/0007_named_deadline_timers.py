"""named deadline timers: a subject may run several deadlines at once

Revision ID: 0007
Revises: 0006

``deadline_timers`` gets a ``name`` column, part of its primary key:
(tenant_id, subject_type, subject_id, name). Existing timers are the refund
cases' only one, ``sla``. The partial index the sweep reads
(``ix_deadline_timers_next_check``) and the row-level-security policy stay.

PostgreSQL: adding a column with a constant default changes only the catalogue;
the new key's unique index is built CONCURRENTLY (outside the migration's
transaction) and then becomes the primary key in one short ALTER, so timers stay
writable while it builds. SQLite copies the table (batch mode).

Downgrade: timers other than ``sla`` cannot exist under the old key; they are
derived rows (the deadline jobs rebuild timers from their subjects), so they are
deleted.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import qrefund.platform.sqltypes
from qrefund.migrations.rls import is_postgres

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "deadline_timers"
PRIMARY_KEY = "deadline_timers_pkey"
NEW_KEY_INDEX = "deadline_timers_named_pkey"
OLD_KEY = ["tenant_id", "subject_type", "subject_id"]
NEW_KEY = [*OLD_KEY, "name"]
DUE_INDEX = "ix_deadline_timers_next_check"
PARTIAL = sa.text("next_check_at IS NOT NULL")


def _name_column(**kw: object) -> sa.Column[str]:
    return sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False, **kw)


def _sqlite_table(key: list[str]) -> sa.Table:
    """The table as SQLite copies it (batch mode), with the primary key ``key``: the
    structure is spelled out, not reflected, so the copy keeps the partial index."""
    when = qrefund.platform.sqltypes.UTCDateTime(timezone=True)
    short = sqlmodel.sql.sqltypes.AutoString(length=24)
    return sa.Table(
        TABLE, sa.MetaData(),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("subject_type", short, nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        *([_name_column()] if "name" in key else []),
        sa.Column("kind", short, nullable=False),
        sa.Column("started_at", when, nullable=False),
        sa.Column("due_at", when, nullable=False),
        sa.Column("warn_at", when, nullable=False),
        sa.Column("warned_at", when, nullable=True),
        sa.Column("breached_at", when, nullable=True),
        sa.Column("escalations", sa.Integer(), nullable=False),
        sa.Column("next_check_at", when, nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("updated_at", when, nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint(*key),
        sa.Index(DUE_INDEX, "next_check_at", sqlite_where=PARTIAL),
    )


def upgrade() -> None:
    op.add_column(TABLE, _name_column(server_default="sla"))
    if is_postgres():
        op.alter_column(TABLE, "name", server_default=None)
        with op.get_context().autocommit_block():
            # (a build that failed before leaves an invalid index behind: start over)
            op.drop_index(NEW_KEY_INDEX, TABLE, postgresql_concurrently=True, if_exists=True)
            op.create_index(NEW_KEY_INDEX, TABLE, NEW_KEY, unique=True,
                            postgresql_concurrently=True)
        op.execute(f"ALTER TABLE {TABLE} DROP CONSTRAINT {PRIMARY_KEY}, "
                   f"ADD CONSTRAINT {PRIMARY_KEY} PRIMARY KEY USING INDEX {NEW_KEY_INDEX}")
        return
    # SQLite changes a key by copying the table (which also drops the default).
    with op.batch_alter_table(TABLE, recreate="always", copy_from=_sqlite_table(NEW_KEY)):
        pass


def downgrade() -> None:
    op.execute(f"DELETE FROM {TABLE} WHERE name <> 'sla'")
    if is_postgres():
        op.execute(f"ALTER TABLE {TABLE} DROP CONSTRAINT {PRIMARY_KEY}, "
                   f"ADD CONSTRAINT {PRIMARY_KEY} PRIMARY KEY ({', '.join(OLD_KEY)})")
        op.drop_column(TABLE, "name")
        return
    with op.batch_alter_table(TABLE, recreate="always", copy_from=_sqlite_table(OLD_KEY)):
        pass
