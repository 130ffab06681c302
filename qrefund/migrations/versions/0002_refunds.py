"""refund policies, refund cases, their timeline and evidence

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import qrefund.platform.sqltypes
from qrefund.migrations import rls

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ["refund_policies", "refund_case_events"]
APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION qrefund_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% rows are append-only', TG_TABLE_NAME;
END $$
"""
TENANT_TABLES = ["refund_policies", "refund_cases", "refund_case_events", "refund_evidence"]


def upgrade() -> None:
    op.create_table(
        "refund_policies",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("owner_kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("refund_window_days", sa.Integer(), nullable=False),
        sa.Column("review_sla_hours", sa.Integer(), nullable=False),
        sa.Column("completion_sla_hours", sa.Integer(), nullable=False),
        sa.Column("max_extension_hours", sa.Integer(), nullable=False),
        sa.Column("allow_partial", sa.Boolean(), nullable=False),
        sa.Column("max_refunds_per_transaction", sa.Integer(), nullable=False),
        sa.Column("allowed_methods", sa.JSON(), nullable=False),
        sa.Column("allowed_reasons", sa.JSON(), nullable=True),
        sa.Column("evidence_required_reasons", sa.JSON(), nullable=False),
        sa.Column("auto_approve_max_minor", sa.BigInteger(), nullable=True),
        sa.Column(
            "auto_approve_currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True
        ),
        sa.Column("auto_approve_reasons", sa.JSON(), nullable=True),
        sa.Column("auto_approve_requires_no_risk", sa.Boolean(), nullable=False),
        sa.Column("fee_bearer", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("sla_clock", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("business_day_start_hour", sa.Integer(), nullable=False),
        sa.Column("business_day_end_hour", sa.Integer(), nullable=False),
        sa.Column("consumer_text", sa.JSON(), nullable=False),
        sa.Column("published_by", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column(
            "published_at", qrefund.platform.sqltypes.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
        sa.UniqueConstraint("tenant_id", "version", name="uq_refund_policies_version"),
    )
    op.create_table(
        "refund_cases",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_number", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("transaction_id", sa.Uuid(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("requested_minor", sa.BigInteger(), nullable=False),
        sa.Column("approved_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("method", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("risk_flags", sa.JSON(), nullable=False),
        sa.Column("policy_tenant_id", sa.Uuid(), nullable=True),
        sa.Column("policy_id", sa.Uuid(), nullable=True),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("extension_used_minutes", sa.Integer(), nullable=False),
        sa.Column(
            "review_due_at", qrefund.platform.sqltypes.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "completion_due_at",
            qrefund.platform.sqltypes.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "review_paused_at", qrefund.platform.sqltypes.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "next_due_at", qrefund.platform.sqltypes.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "extension_notice_due_at",
            qrefund.platform.sqltypes.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("assignee", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
        sa.Column("decision_note", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column(
            "payout_failure_reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True
        ),
        sa.Column(
            "contact_phone_enc", sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=True
        ),
        sa.Column(
            "contact_email_enc", sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=True
        ),
        sa.Column(
            "bank_destination_enc", sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=True
        ),
        sa.Column("submitted_by", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", qrefund.platform.sqltypes.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", qrefund.platform.sqltypes.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "review_started_at", qrefund.platform.sqltypes.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "info_requested_at", qrefund.platform.sqltypes.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "approved_at", qrefund.platform.sqltypes.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "rejected_at", qrefund.platform.sqltypes.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "cancelled_at", qrefund.platform.sqltypes.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "processing_at", qrefund.platform.sqltypes.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "refunded_at", qrefund.platform.sqltypes.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "payout_failed_at", qrefund.platform.sqltypes.UTCDateTime(timezone=True), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "transaction_id"],
            ["transactions.tenant_id", "transactions.id"],
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
        sa.UniqueConstraint("tenant_id", "case_number", name="uq_refund_cases_number"),
    )
    with op.batch_alter_table("refund_cases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_refund_cases_created", ["tenant_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_refund_cases_next_due", ["tenant_id", "next_due_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_refund_cases_transaction", ["tenant_id", "transaction_id"], unique=False
        )

    op.create_table(
        "refund_case_events",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", sqlmodel.sql.sqltypes.AutoString(length=48), nullable=False),
        sa.Column("from_status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("to_status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column(
            "occurred_at", qrefund.platform.sqltypes.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "case_id"],
            ["refund_cases.tenant_id", "refund_cases.id"],
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
        sa.UniqueConstraint("tenant_id", "case_id", "seq", name="uq_refund_case_events_seq"),
    )
    op.create_table(
        "refund_evidence",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("type", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("filename", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column(
            "created_at", qrefund.platform.sqltypes.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "case_id"],
            ["refund_cases.tenant_id", "refund_cases.id"],
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
    )
    with op.batch_alter_table("refund_evidence", schema=None) as batch_op:
        batch_op.create_index("ix_refund_evidence_case", ["tenant_id", "case_id"], unique=False)

    for table in TENANT_TABLES:
        rls.enable(table)
    # A merchant reads its agency's template (the policy it inherits); writing stays
    # limited to the caller's own tenants.
    if rls.is_postgres():
        op.execute(
            "ALTER POLICY tenant_isolation ON refund_policies USING ("
            "qrefund_tenant_visible(tenant_id) OR EXISTS (SELECT 1 FROM tenants m"
            " WHERE m.parent_id = refund_policies.tenant_id AND qrefund_tenant_visible(m.id)))"
        )
        # Published versions and timeline entries are never rewritten (TRUNCATE, which
        # tests use, fires no row triggers).
        op.execute(APPEND_ONLY_FUNCTION)
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
    with op.batch_alter_table("refund_evidence", schema=None) as batch_op:
        batch_op.drop_index("ix_refund_evidence_case")
    op.drop_table("refund_evidence")
    op.drop_table("refund_case_events")
    with op.batch_alter_table("refund_cases", schema=None) as batch_op:
        batch_op.drop_index("ix_refund_cases_transaction")
        batch_op.drop_index("ix_refund_cases_next_due")
        batch_op.drop_index("ix_refund_cases_created")
    op.drop_table("refund_cases")
    op.drop_table("refund_policies")
