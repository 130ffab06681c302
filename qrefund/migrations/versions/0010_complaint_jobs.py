"""complaint jobs: one automatic REFUND_DELAY ticket per refund case

Revision ID: 0010
Revises: 0009

A refund whose completion deadline escalates to level 2 opens a REFUND_DELAY ticket
on the consumer's behalf, opened by ``system:refund-delay``. This partial unique
index holds only those tickets and makes the opening happen once per case, whatever
runs twice or at once. (The deadline sweep reads ``ix_deadline_timers_next_check`` and
the auto-close job ``ix_complaint_tickets_auto_close``, both already there.) On
PostgreSQL it is built CONCURRENTLY, so tickets stay writable while it builds.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from qrefund.migrations.rls import is_postgres

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "uq_complaint_tickets_refund_delay"
OPENED_AUTOMATICALLY = sa.text("opened_by = 'system:refund-delay'")
COLUMNS = ["tenant_id", "refund_case_id"]


def upgrade() -> None:
    if is_postgres():
        with op.get_context().autocommit_block():
            op.create_index(NAME, "complaint_tickets", COLUMNS, unique=True,
                            postgresql_where=OPENED_AUTOMATICALLY, postgresql_concurrently=True)
    else:
        op.create_index(NAME, "complaint_tickets", COLUMNS, unique=True,
                        sqlite_where=OPENED_AUTOMATICALLY)


def downgrade() -> None:
    if is_postgres():
        with op.get_context().autocommit_block():
            op.drop_index(NAME, "complaint_tickets", postgresql_concurrently=True)
    else:
        op.drop_index(NAME, "complaint_tickets")
