"""Migration 0017 (service-provider links) goes down to 0016 and up again on the test
backend: its table, payout columns, RLS policy and parent-read functions come and go,
and the schema matches the models."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.pool import NullPool

from qrefund.migrations.runner import alembic_config
from qrefund.platform.models import metadata
from tests.conftest import BACKEND
from tests.support.migrations import scratch_database

FUNCTIONS = {"qrefund_parent_links", "qrefund_parent_accounts"}


def _state(url: str) -> tuple[bool, set[str], set[str], bool, bool]:
    """(table exists, payout columns, functions, RLS policy, schema == models)."""
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        found = inspect(conn)
        table = "channel_account_merchants" in found.get_table_names()
        columns = {c["name"] for c in found.get_columns("payouts")} & {
            "channel_account_tenant_id", "channel_link_id"}
        functions: set[str] = set()
        policy = False
        if conn.dialect.name == "postgresql":
            functions = {r[0] for r in conn.execute(text(
                "SELECT proname FROM pg_proc WHERE proname LIKE 'qrefund_parent_%'"))}
            policy = bool(conn.execute(text(
                "SELECT 1 FROM pg_policies WHERE tablename = 'channel_account_merchants'"
                " AND policyname = 'tenant_isolation'")).first())
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                metadata)
    engine.dispose()
    return table, columns, functions, policy, diff == []


def test_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    url = scratch_database(tmp_path, "link_migrations")
    config = alembic_config(url)
    postgres = BACKEND != "sqlite"
    up = (True, {"channel_account_tenant_id", "channel_link_id"},
          FUNCTIONS if postgres else set(), postgres, True)
    command.upgrade(config, "heads")
    assert _state(url) == up
    command.downgrade(config, "0016")
    assert _state(url) == (False, set(), set(), False, False)
    command.upgrade(config, "heads")
    assert _state(url) == up
