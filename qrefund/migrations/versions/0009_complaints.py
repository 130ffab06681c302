"""complaint tickets, their messages, timeline and attachments; complaint terms of policies

Revision ID: 0009
Revises: 0006

The policy columns are nullable: a version published before they existed says
nothing about complaints, and the built-in defaults apply to it (published rows
are never rewritten). The thread and the timeline are append-only on PostgreSQL.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import qrefund.platform.sqltypes
from qrefund.migrations import rls

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = ["complaint_tickets", "complaint_messages", "complaint_events",
                 "complaint_attachments"]
APPEND_ONLY = ["complaint_messages", "complaint_events"]
POLICY_COLUMNS = [
    ("complaint_first_response_hours", sa.JSON),
    ("complaint_resolution_hours", sa.JSON),
    ("complaint_reopen_window_days", sa.Integer),
    ("complaint_auto_close_days", sa.Integer),
]
TICKET_INDEXES = [
    ("ix_complaint_tickets_created", ["tenant_id", "created_at", "id"]),
    ("ix_complaint_tickets_next_due", ["tenant_id", "next_due_at", "id"]),
    ("ix_complaint_tickets_status", ["tenant_id", "status", "created_at", "id"]),
    ("ix_complaint_tickets_transaction", ["tenant_id", "transaction_id", "created_at"]),
    ("ix_complaint_tickets_case", ["tenant_id", "refund_case_id"]),
    ("ix_complaint_tickets_assignee", ["tenant_id", "assignee"]),
    ("ix_complaint_tickets_team", ["tenant_id", "team"]),
    ("ix_complaint_tickets_email_fp", ["tenant_id", "contact_email_fp", "created_at"]),
    ("ix_complaint_tickets_phone_fp", ["tenant_id", "contact_phone_fp", "created_at"]),
]
AUTO_CLOSE = sa.text("auto_close_at IS NOT NULL")


def _string(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _time(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, qrefund.platform.sqltypes.UTCDateTime(timezone=True),
                     nullable=nullable)


def _keys(*foreign: tuple[str, str]) -> list[sa.schema.SchemaItem]:
    """The primary key and the (tenant_id, column) foreign keys of a tenant table."""
    items: list[sa.schema.SchemaItem] = [
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
    ]
    for column, table in foreign:
        items.append(sa.ForeignKeyConstraint(["tenant_id", column],
                                             [f"{table}.tenant_id", f"{table}.id"]))
    return items


def _tickets() -> None:
    op.create_table(
        "complaint_tickets",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("ticket_number", _string(32), nullable=False),
        sa.Column("transaction_id", sa.Uuid(), nullable=False),
        sa.Column("refund_case_id", sa.Uuid(), nullable=True),
        sa.Column("status", _string(16), nullable=False),
        sa.Column("priority", _string(8), nullable=False),
        sa.Column("priority_reason", _string(500), nullable=True),
        sa.Column("category", _string(16), nullable=False),
        sa.Column("channel", _string(16), nullable=False),
        sa.Column("description", _string(4000), nullable=False),
        sa.Column("assignee", _string(80), nullable=True),
        sa.Column("team", _string(80), nullable=True),
        sa.Column("contact_phone_enc", _string(1024), nullable=True),
        sa.Column("contact_email_enc", _string(1024), nullable=True),
        sa.Column("contact_phone_fp", _string(64), nullable=True),
        sa.Column("contact_email_fp", _string(64), nullable=True),
        sa.Column("policy_tenant_id", sa.Uuid(), nullable=True),
        sa.Column("policy_id", sa.Uuid(), nullable=True),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        _time("first_response_due_at", nullable=False),
        _time("resolution_due_at", nullable=False),
        _time("first_responded_at"),
        _time("sla_started_at", nullable=False),
        sa.Column("sla_paused_seconds", sa.BigInteger(), nullable=False),
        _time("waiting_since"),
        _time("next_due_at"),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("repeat_of_id", sa.Uuid(), nullable=True),
        sa.Column("resolution", _string(24), nullable=True),
        sa.Column("resolution_note", _string(2000), nullable=True),
        sa.Column("follow_up_case_id", sa.Uuid(), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("rating_comment", _string(1000), nullable=True),
        _time("rated_at"),
        sa.Column("opened_by", _string(80), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("reopen_count", sa.Integer(), nullable=False),
        _time("created_at", nullable=False),
        _time("updated_at", nullable=False),
        _time("resolved_at"),
        _time("closed_at"),
        _time("reopened_at"),
        _time("auto_close_at"),
        *_keys(("transaction_id", "transactions"), ("refund_case_id", "refund_cases"),
               ("follow_up_case_id", "refund_cases"), ("repeat_of_id", "complaint_tickets")),
        sa.UniqueConstraint("tenant_id", "ticket_number", name="uq_complaint_tickets_number"),
    )
    with op.batch_alter_table("complaint_tickets", schema=None) as batch_op:
        for name, columns in TICKET_INDEXES:
            batch_op.create_index(name, columns, unique=False)
        batch_op.create_index("ix_complaint_tickets_auto_close", ["auto_close_at"], unique=False,
                              postgresql_where=AUTO_CLOSE, sqlite_where=AUTO_CLOSE)


def _children() -> None:
    op.create_table(
        "complaint_messages",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("body", _string(4000), nullable=False),
        sa.Column("internal", sa.Boolean(), nullable=False),
        sa.Column("author", _string(80), nullable=False),
        sa.Column("author_kind", _string(16), nullable=False),
        _time("created_at", nullable=False),
        *_keys(("ticket_id", "complaint_tickets")),
    )
    op.create_table(
        "complaint_events",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", _string(48), nullable=False),
        sa.Column("from_status", _string(16), nullable=True),
        sa.Column("to_status", _string(16), nullable=True),
        sa.Column("actor", _string(80), nullable=False),
        sa.Column("note", _string(2000), nullable=True),
        sa.Column("internal", sa.Boolean(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        _time("occurred_at", nullable=False),
        *_keys(("ticket_id", "complaint_tickets")),
        sa.UniqueConstraint("tenant_id", "ticket_id", "seq", name="uq_complaint_events_seq"),
    )
    op.create_table(
        "complaint_attachments",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("type", _string(16), nullable=False),
        sa.Column("filename", _string(200), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", _string(64), nullable=False),
        _time("created_at", nullable=False),
        *_keys(("ticket_id", "complaint_tickets")),
    )
    with op.batch_alter_table("complaint_messages", schema=None) as batch_op:
        batch_op.create_index("ix_complaint_messages_ticket",
                              ["tenant_id", "ticket_id", "created_at"], unique=False)
    with op.batch_alter_table("complaint_attachments", schema=None) as batch_op:
        batch_op.create_index("ix_complaint_attachments_ticket", ["tenant_id", "ticket_id"],
                              unique=False)


def upgrade() -> None:
    with op.batch_alter_table("refund_policies", schema=None) as batch_op:
        for name, type_ in POLICY_COLUMNS:
            batch_op.add_column(sa.Column(name, type_(), nullable=True))
    _tickets()
    _children()
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
    with op.batch_alter_table("complaint_attachments", schema=None) as batch_op:
        batch_op.drop_index("ix_complaint_attachments_ticket")
    with op.batch_alter_table("complaint_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_complaint_messages_ticket")
    op.drop_table("complaint_attachments")
    op.drop_table("complaint_events")
    op.drop_table("complaint_messages")
    with op.batch_alter_table("complaint_tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_complaint_tickets_auto_close")
        for name, _columns in reversed(TICKET_INDEXES):
            batch_op.drop_index(name)
    op.drop_table("complaint_tickets")
    with op.batch_alter_table("refund_policies", schema=None) as batch_op:
        for name, _type in reversed(POLICY_COLUMNS):
            batch_op.drop_column(name)

