"""index of approved cases awaiting their payout (the payout sweep's rescue)

Revision ID: 0006
Revises: 0005

A case is APPROVED only until its first payout is created; the payout sweep
finds cases left there (their payout job was lost) through this partial index,
which holds only those few cases. On PostgreSQL it is built CONCURRENTLY (outside
the migration's transaction), so refund cases stay writable while it builds.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from qrefund.migrations.rls import is_postgres

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_refund_cases_awaiting_payout"
AWAITING_PAYOUT = sa.text("status = 'APPROVED'")


def upgrade() -> None:
    columns = ["approved_at", "tenant_id", "id"]
    if is_postgres():
        with op.get_context().autocommit_block():
            op.create_index(NAME, "refund_cases", columns, postgresql_where=AWAITING_PAYOUT,
                            postgresql_concurrently=True)
    else:
        op.create_index(NAME, "refund_cases", columns, sqlite_where=AWAITING_PAYOUT)


def downgrade() -> None:
    if is_postgres():
        with op.get_context().autocommit_block():
            op.drop_index(NAME, "refund_cases", postgresql_concurrently=True)
    else:
        op.drop_index(NAME, "refund_cases")
