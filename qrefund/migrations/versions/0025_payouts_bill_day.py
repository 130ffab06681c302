"""payouts: an index for the refund-bill comparison of a day

Revision ID: 0025
Revises: 0024

The daily reconciliation compares each channel account's refund bill of a day with the
payouts created through channel accounts that day (``created_at`` in the China day),
across tenants: a partial index by creation time over those payouts only, so the read
does not scan every payout ever made.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | Sequence[str] | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

THROUGH_ACCOUNTS = sa.text("channel_account_id IS NOT NULL")


def upgrade() -> None:
    op.create_index("ix_payouts_bill_day", "payouts", ["created_at"], unique=False,
                    postgresql_where=THROUGH_ACCOUNTS, sqlite_where=THROUGH_ACCOUNTS)


def downgrade() -> None:
    op.drop_index("ix_payouts_bill_day", table_name="payouts")
