"""payment channel accounts (WeChat Pay, Alipay) and their audit trail; payouts name theirs

Revision ID: 0012
Revises: 0015

The audit trail is append-only on PostgreSQL. ``payouts.channel_account_id`` is
nullable: every earlier payout went through a registered adapter (the sandbox).
``payouts.discrepancy`` and ``reconciled_at`` hold the daily reconciliation's
finding, with a partial index over the payouts it reads.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import qrefund.platform.sqltypes
from qrefund.migrations import rls

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = ["payment_channel_accounts", "payment_channel_account_events"]
APPEND_ONLY = ["payment_channel_account_events"]
RECONCILE = sa.text("channel_account_id IS NOT NULL")


def _string(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _time(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, qrefund.platform.sqltypes.UTCDateTime(timezone=True),
                     nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "payment_channel_accounts",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("channel", _string(16), nullable=False),
        sa.Column("status", _string(16), nullable=False),
        sa.Column("mode", _string(16), nullable=False),
        sa.Column("merchant_ref", _string(32), nullable=False),
        sa.Column("sub_merchant_ref", _string(32), nullable=True),
        sa.Column("key_serial", _string(64), nullable=True),
        sa.Column("provider_key_id", _string(64), nullable=True),
        sa.Column("provider_public_key", sa.Text(), nullable=False),
        sa.Column("secrets_enc", sa.Text(), nullable=False),
        _time("secrets_rotated_at"),
        _time("last_test_at"),
        sa.Column("last_test_ok", sa.Boolean(), nullable=True),
        sa.Column("last_test_message", _string(300), nullable=True),
        _time("disabled_at"),
        sa.Column("created_by", _string(80), nullable=False),
        _time("created_at", nullable=False),
        _time("updated_at", nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
        sa.UniqueConstraint("tenant_id", "channel", name="uq_payment_channel_accounts_channel"),
    )
    op.create_table(
        "payment_channel_account_events",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("action", _string(32), nullable=False),
        sa.Column("actor", _string(80), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        _time("occurred_at", nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.ForeignKeyConstraint(["tenant_id", "account_id"],
                                ["payment_channel_accounts.tenant_id",
                                 "payment_channel_accounts.id"]),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
    )
    with op.batch_alter_table("payment_channel_account_events", schema=None) as batch_op:
        batch_op.create_index("ix_payment_channel_account_events_account",
                              ["tenant_id", "account_id", "occurred_at"], unique=False)
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel_account_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("discrepancy", _string(300), nullable=True))
        batch_op.add_column(_time("reconciled_at"))
        batch_op.create_index("ix_payouts_reconcile", ["updated_at"], unique=False,
                              postgresql_where=RECONCILE, sqlite_where=RECONCILE)
    for table in TENANT_TABLES:
        rls.enable(table)
    if rls.is_postgres():
        # qrefund_append_only() comes with 0002 (refund timelines).
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
                " FOR EACH ROW EXECUTE FUNCTION qrefund_append_only()"
            )


def downgrade() -> None:
    if rls.is_postgres():
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    for table in TENANT_TABLES:
        rls.disable(table)
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.drop_index("ix_payouts_reconcile")
        batch_op.drop_column("reconciled_at")
        batch_op.drop_column("discrepancy")
        batch_op.drop_column("channel_account_id")
    with op.batch_alter_table("payment_channel_account_events", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_channel_account_events_account")
    op.drop_table("payment_channel_account_events")
    op.drop_table("payment_channel_accounts")
