"""Row-level security for tenant tables (PostgreSQL only; SQLite has no RLS).

Policies read two per-transaction settings that the unit of work sets from the
caller's TenantScope: ``qrefund.tenant_ids`` (comma-separated UUIDs) and
``qrefund.all_tenants`` (``on`` for the operator and system jobs). A connection
that set neither sees no rows at all.
"""

from __future__ import annotations

from alembic import op

VISIBLE_FUNCTION = """
CREATE OR REPLACE FUNCTION qrefund_tenant_visible(tid uuid) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT coalesce(current_setting('qrefund.all_tenants', true), '') = 'on'
      OR tid = ANY (string_to_array(
             nullif(current_setting('qrefund.tenant_ids', true), ''), ',')::uuid[])
$$
"""


def is_postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def create_visibility_function() -> None:
    if is_postgres():
        op.execute(VISIBLE_FUNCTION)


def enable(table: str, condition: str = "qrefund_tenant_visible(tenant_id)") -> None:
    if not is_postgres():
        return
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table} USING ({condition}) WITH CHECK ({condition})"
    )


def disable(table: str) -> None:
    if is_postgres():
        op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
