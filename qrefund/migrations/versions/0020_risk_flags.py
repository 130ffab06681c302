"""risk: anomaly flags, the fingerprints and reported amount the rules compare, policy
risk-rule settings

Revision ID: 0020
Revises: 0016

``risk_flags`` (tenant rows, RLS); nullable columns on ``transactions`` (payer
fingerprint, the integrator's expected amount), ``refund_cases`` (destination
fingerprint) and ``refund_policies`` (``risk_rules``): catalogue-only changes on
PostgreSQL.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import qrefund.platform.sqltypes
from qrefund.migrations import rls

revision: str = "0020"
down_revision: str | Sequence[str] | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _string(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    when = qrefund.platform.sqltypes.UTCDateTime
    op.create_table(
        "risk_flags",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subject_type", _string(16), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("transaction_id", sa.Uuid(), nullable=True),
        sa.Column("refund_case_id", sa.Uuid(), nullable=True),
        sa.Column("rule", _string(32), nullable=False),
        sa.Column("severity", _string(8), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("status", _string(16), nullable=False),
        sa.Column("reviewer", _string(80), nullable=True),
        sa.Column("note", _string(2000), nullable=True),
        sa.Column("created_at", when(timezone=True), nullable=False),
        sa.Column("updated_at", when(timezone=True), nullable=False),
        sa.Column("reviewed_at", when(timezone=True), nullable=True),
        sa.Column("last_seen_at", when(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
        sa.UniqueConstraint("tenant_id", "subject_type", "subject_id", "rule",
                            name="uq_risk_flags_subject_rule"),
    )
    op.create_index("ix_risk_flags_list", "risk_flags", ["tenant_id", "created_at", "id"])
    op.create_index("ix_risk_flags_transaction", "risk_flags", ["tenant_id", "transaction_id"])
    op.create_index("ix_risk_flags_case", "risk_flags", ["tenant_id", "refund_case_id"])
    op.create_index("ix_risk_flags_feedback", "risk_flags",
                    ["tenant_id", "rule", "status", "reviewed_at"])
    rls.enable("risk_flags")

    op.add_column("transactions", sa.Column("payer_fp", _string(64), nullable=True))
    op.add_column("transactions", sa.Column("expected_amount_minor", sa.BigInteger(),
                                            nullable=True))
    op.create_index("ix_transactions_payer_fp", "transactions",
                    ["tenant_id", "payer_fp", "paid_at"])
    op.create_index("ix_transactions_terminal", "transactions",
                    ["tenant_id", "terminal_id", "paid_at"])
    op.add_column("refund_cases", sa.Column("bank_destination_fp", _string(64), nullable=True))
    op.create_index("ix_refund_cases_destination_fp", "refund_cases",
                    ["tenant_id", "bank_destination_fp"])
    op.add_column("refund_policies", sa.Column("risk_rules", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("refund_policies") as batch:
        batch.drop_column("risk_rules")
    op.drop_index("ix_refund_cases_destination_fp", table_name="refund_cases")
    with op.batch_alter_table("refund_cases") as batch:
        batch.drop_column("bank_destination_fp")
    op.drop_index("ix_transactions_terminal", table_name="transactions")
    op.drop_index("ix_transactions_payer_fp", table_name="transactions")
    with op.batch_alter_table("transactions") as batch:
        batch.drop_column("expected_amount_minor")
        batch.drop_column("payer_fp")
    rls.disable("risk_flags")
    op.drop_index("ix_risk_flags_feedback", table_name="risk_flags")
    op.drop_index("ix_risk_flags_case", table_name="risk_flags")
    op.drop_index("ix_risk_flags_transaction", table_name="risk_flags")
    op.drop_index("ix_risk_flags_list", table_name="risk_flags")
    op.drop_table("risk_flags")
