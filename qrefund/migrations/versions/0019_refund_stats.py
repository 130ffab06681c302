"""refund statistics: the daily rollup, its watermark, the changed-cases index

Revision ID: 0019
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import qrefund.platform.sqltypes
from qrefund.migrations import rls

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FIGURES = ("requested", "approved", "approved_full", "approved_partial", "rejected",
            "cancelled", "refunded", "review_decided", "review_on_time", "completion_done",
            "completion_on_time", "breached", "escalated", "extended", "requested_minor",
            "approved_minor", "refunded_minor")

# The scope as a hashed sub-select: an agency's 1,000-merchant scope is one hash probe
# per row instead of a walk along a 1,000-element array (bench/stats.py: the agency's
# year read from the rollup went from 1.7 s to 0.6-0.8 s under load).
HASHED_SCOPE = ("(SELECT qrefund_scope_all()) OR tenant_id IN "
                "(SELECT unnest(qrefund_scope_ids()))")


def upgrade() -> None:
    when = qrefund.platform.sqltypes.UTCDateTime
    op.create_table(
        "refund_stats_days",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in _FIGURES),
        sa.Column("computed_at", when(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("tenant_id", "day", "currency"),
    )
    rls.enable("refund_stats_days", HASHED_SCOPE)
    op.create_table(
        "stats_rollup_state",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("watermark", when(timezone=True), nullable=False),
        sa.Column("last_run_at", when(timezone=True), nullable=True),
        sa.Column("days_recomputed", sa.Integer(), nullable=False),
        sa.Column("updated_at", when(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    # The rollup job's look-up of cases changed since its last run.
    with op.batch_alter_table("refund_cases", schema=None) as batch_op:
        batch_op.create_index("ix_refund_cases_updated", ["updated_at"], unique=False)
        # refundStats' partial edge days: many merchants' cases within a few hours.
        batch_op.create_index("ix_refund_cases_created_at", ["created_at", "tenant_id"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("refund_cases", schema=None) as batch_op:
        batch_op.drop_index("ix_refund_cases_created_at")
        batch_op.drop_index("ix_refund_cases_updated")
    op.drop_table("stats_rollup_state")
    rls.disable("refund_stats_days")
    op.drop_table("refund_stats_days")
