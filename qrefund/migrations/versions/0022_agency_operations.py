"""agency operations: open cases frozen by a suspension, daily digests

Revision ID: 0022
Revises: 0016

* ``tenants.open_cases``: what the current suspension does to the merchant's open
  cases (CONTINUE or FREEZE; NULL while active);
* ``tenants.digest_email``: where a merchant's or agency's daily digest is e-mailed
  (both nullable columns: catalogue-only changes on PostgreSQL);
* ``daily_digests``: one row per tenant and local day (the key makes a digest once),
  with row-level security;
* two indexes on ``domain_events`` for the ``events`` feed's type and family filters,
  ``(tenant_id, type, seq)`` and ``(tenant_id, aggregate_type, seq)``: without them a
  filtered page walks the tenant's whole stream (bench/events_feed.py). On a large
  outbox, create them CONCURRENTLY by hand before migrating (same names).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import qrefund.platform.sqltypes
from qrefund.migrations import rls

revision: str = "0022"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _string(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    when = qrefund.platform.sqltypes.UTCDateTime
    op.add_column("tenants", sa.Column("open_cases", _string(16), nullable=True))
    op.add_column("tenants", sa.Column("digest_email", _string(254), nullable=True))
    op.create_table(
        "daily_digests",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("day", _string(10), nullable=False),
        sa.Column("status", _string(16), nullable=False),
        sa.Column("sections", sa.JSON(), nullable=False),
        sa.Column("recipient_masked", _string(120), nullable=True),
        sa.Column("error", _string(200), nullable=True),
        sa.Column("created_at", when(timezone=True), nullable=False),
        sa.Column("sent_at", when(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("tenant_id", "day"),
    )
    rls.enable("daily_digests")
    op.create_index("ix_domain_events_tenant_type_seq", "domain_events",
                    ["tenant_id", "type", "seq"], if_not_exists=True)
    op.create_index("ix_domain_events_tenant_aggregate_seq", "domain_events",
                    ["tenant_id", "aggregate_type", "seq"], if_not_exists=True)


def downgrade() -> None:
    op.drop_index("ix_domain_events_tenant_aggregate_seq", table_name="domain_events")
    op.drop_index("ix_domain_events_tenant_type_seq", table_name="domain_events")
    rls.disable("daily_digests")
    op.drop_table("daily_digests")
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("digest_email")
        batch.drop_column("open_cases")
