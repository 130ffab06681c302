"""RLS policies read the tenant scope once per query, not once per row.

Revision ID: 0005
Revises: 0003, 0004

Policies written as ``qrefund_tenant_visible(tenant_id)`` re-parse the
``qrefund.tenant_ids`` setting for every row scanned; the new form compares
with ``(SELECT qrefund_scope_ids())``, an InitPlan evaluated once (see rls.py).
Policies with conditions of their own are left as they are.
"""

import re
from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

from qrefund.migrations import rls

revision: str = "0005"
down_revision: str | Sequence[str] | None = ("0003", "0004")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_DEFAULT = "qrefund_tenant_visible(tenant_id)"
OLD_TENANTS = "qrefund_tenant_visible(id) OR qrefund_tenant_visible(parent_id)"


def _tables_with(condition: str) -> list[str]:
    """Tables whose tenant_isolation policy is exactly ``condition`` (as PostgreSQL prints it)."""
    return [t for t, qual in _policies() if _bare(qual or "") == _bare(condition)]


def _policies() -> list[tuple[str, str | None]]:
    rows = op.get_bind().execute(
        text(
            "SELECT tablename, qual FROM pg_policies "
            "WHERE schemaname = current_schema() AND policyname = 'tenant_isolation'"
        )
    )
    return [(r[0], r[1]) for r in rows]


def _bare(condition: str) -> str:
    # PostgreSQL re-prints conditions with its own spacing and parentheses.
    return re.sub(r"[\s()]", "", condition)


def _alter(table: str, condition: str) -> None:
    op.execute(
        f"ALTER POLICY tenant_isolation ON {table} USING ({condition}) WITH CHECK ({condition})"
    )


def upgrade() -> None:
    if not rls.is_postgres():
        return
    op.execute(rls.SCOPE_FUNCTIONS)
    for table in _tables_with(OLD_DEFAULT):
        _alter(table, rls.visible())
    if "tenants" in _tables_with(OLD_TENANTS):
        _alter("tenants", rls.TENANTS_CONDITION)


def downgrade() -> None:
    if not rls.is_postgres():
        return
    for table, qual in _policies():
        if "qrefund_scope_ids" not in (qual or ""):
            continue
        _alter(table, OLD_TENANTS if table == "tenants" else OLD_DEFAULT)
