"""contact fingerprints of refund cases; cross-merchant contact indexes (/my)

Revision ID: 0013
Revises: 0012

"My refunds" finds what a consumer filed with a phone number or e-mail address at
any merchant, by keyed fingerprints of the normalised contact (contacts themselves
are encrypted). Complaint tickets have had fingerprints since 0009 (indexed per
merchant, for repeat complaints); refund cases get theirs here, and both get an
index on the fingerprint alone. Cases filed before this revision have no
fingerprint, so /my does not list them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("refund_cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contact_phone_fp",
                                      sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column("contact_email_fp",
                                      sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.create_index("ix_refund_cases_phone_fp", ["contact_phone_fp"], unique=False)
        batch_op.create_index("ix_refund_cases_email_fp", ["contact_email_fp"], unique=False)
    with op.batch_alter_table("complaint_tickets", schema=None) as batch_op:
        batch_op.create_index("ix_complaint_tickets_contact_phone", ["contact_phone_fp"],
                              unique=False)
        batch_op.create_index("ix_complaint_tickets_contact_email", ["contact_email_fp"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("complaint_tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_complaint_tickets_contact_email")
        batch_op.drop_index("ix_complaint_tickets_contact_phone")
    with op.batch_alter_table("refund_cases", schema=None) as batch_op:
        batch_op.drop_index("ix_refund_cases_email_fp")
        batch_op.drop_index("ix_refund_cases_phone_fp")
        batch_op.drop_column("contact_email_fp")
        batch_op.drop_column("contact_phone_fp")
