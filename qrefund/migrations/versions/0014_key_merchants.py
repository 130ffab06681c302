"""api keys of an agency may be restricted to some of its merchants

Revision ID: 0014
Revises: 0011

A nullable JSON column: existing keys keep every merchant (NULL). Adding a
nullable column without a default changes only the catalogue on PostgreSQL.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("merchant_ids", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("merchant_ids")
