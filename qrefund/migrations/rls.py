"""Row-level security for tenant tables (PostgreSQL only; SQLite has no RLS).

Policies read two per-transaction settings that the unit of work sets from the
caller's TenantScope: ``qrefund.tenant_ids`` (comma-separated UUIDs) and
``qrefund.all_tenants`` (``on`` for the operator and system jobs). A connection
that set neither sees no rows at all.

Policies compare against ``(SELECT qrefund_scope_ids())`` rather than calling a
function per row: a scalar sub-select is an InitPlan, evaluated once per query,
so the settings are parsed once instead of once per row scanned (a 32k-row
count went from 35 ms to 6 ms). ``qrefund_tenant_visible(tid)`` stays for
policies with conditions of their own; it is evaluated per row.
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


SCOPE_FUNCTIONS = """
CREATE OR REPLACE FUNCTION qrefund_scope_all() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT coalesce(current_setting('qrefund.all_tenants', true), '') = 'on'
$$;
CREATE OR REPLACE FUNCTION qrefund_scope_ids() RETURNS uuid[]
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT coalesce(string_to_array(
      nullif(current_setting('qrefund.tenant_ids', true), ''), ',')::uuid[], '{}')
$$
"""


def visible(column: str = "tenant_id") -> str:
    """The policy condition for a tenant column, with the scope read once per query."""
    return f"(SELECT qrefund_scope_all()) OR {column} = ANY ((SELECT qrefund_scope_ids())::uuid[])"


# The tenants table: a tenant row is visible to itself and to its parent.
TENANTS_CONDITION = f"{visible('id')} OR parent_id = ANY ((SELECT qrefund_scope_ids())::uuid[])"


def is_postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def create_visibility_function() -> None:
    if is_postgres():
        op.execute(VISIBLE_FUNCTION)
        op.execute(SCOPE_FUNCTIONS)


def enable(table: str, condition: str | None = None) -> None:
    condition = condition or visible()
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
