"""agency operations: open cases frozen by a suspension

Revision ID: 0022
Revises: 0016

``tenants.open_cases``: what the current suspension does to the merchant's open cases
(CONTINUE or FREEZE; NULL while active). A nullable column: a catalogue-only change
on PostgreSQL.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0022"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("tenants", sa.Column("open_cases", sqlmodel.sql.sqltypes.AutoString(length=16),
                                       nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("open_cases")
