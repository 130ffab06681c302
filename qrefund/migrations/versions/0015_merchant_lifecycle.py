"""merchant lifecycle: why and when a tenant's status last changed

Revision ID: 0015
Revises: 0014

Two nullable columns on ``tenants`` (catalogue-only changes on PostgreSQL). The
statuses themselves (ACTIVE, SUSPENDED, CLOSED) live in the existing column.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import qrefund.platform.sqltypes

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("tenants", sa.Column("status_reason",
                                       sqlmodel.sql.sqltypes.AutoString(length=500),
                                       nullable=True))
    op.add_column("tenants", sa.Column("status_changed_at",
                                       qrefund.platform.sqltypes.UTCDateTime(timezone=True),
                                       nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("status_changed_at")
        batch.drop_column("status_reason")
