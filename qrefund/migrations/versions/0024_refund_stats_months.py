"""refund statistics: the monthly rollup above the days

Revision ID: 0024
Revises: 0020

``refund_stats_months`` (tenant rows, RLS with the same hashed scope as the days) and
an index of the days by day. The
rollup's watermark is dropped, so the job's next run is a full one that fills the
months from the days (until then refundStats reads the cases, as before any run).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import qrefund.platform.sqltypes
from qrefund.migrations import rls

revision: str = "0024"
down_revision: str | Sequence[str] | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FIGURES = ("requested", "approved", "approved_full", "approved_partial", "rejected",
            "cancelled", "refunded", "review_decided", "review_on_time", "completion_done",
            "completion_on_time", "breached", "escalated", "extended", "requested_minor",
            "approved_minor", "refunded_minor")
# As for refund_stats_days (0019): the scope as a hashed sub-select.
HASHED_SCOPE = ("(SELECT qrefund_scope_all()) OR tenant_id IN "
                "(SELECT unnest(qrefund_scope_ids()))")


def upgrade() -> None:
    op.create_table(
        "refund_stats_months",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in _FIGURES),
        sa.Column("computed_at", qrefund.platform.sqltypes.UTCDateTime(timezone=True),
                  nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("tenant_id", "month", "currency"),
    )
    rls.enable("refund_stats_months", HASHED_SCOPE)
    # The whole days beside the months: a few days of many merchants, by day first.
    op.create_index("ix_refund_stats_days_day", "refund_stats_days", ["day", "tenant_id"])
    op.execute("DELETE FROM stats_rollup_state WHERE name = 'refund_stats_days'")


def downgrade() -> None:
    op.drop_index("ix_refund_stats_days_day", table_name="refund_stats_days")
    rls.disable("refund_stats_months")
    op.drop_table("refund_stats_months")
