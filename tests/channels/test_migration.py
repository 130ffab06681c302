"""Migration 0012_channel_accounts goes up, down and up again on the test backend, the
schema it builds is exactly the models' (no autogenerate difference), and its audit
trail is append-only on PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from qrefund.migrations.runner import alembic_config
from qrefund.platform.models import metadata
from tests.channels.api import create_wechat
from tests.conftest import BACKEND
from tests.support.migrations import scratch_database
from tests.support.world import World

TABLES = {"payment_channel_accounts", "payment_channel_account_events"}


def _database(tmp_path: Path) -> str:
    return scratch_database(tmp_path, "channel_migrations")


def _state(url: str) -> tuple[set[str], bool, list[Any], set[str]]:
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        found = inspect(conn)
        tables = set(found.get_table_names()) & TABLES
        column = "channel_account_id" in {c["name"] for c in found.get_columns("payouts")}
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                metadata)
        policies: set[str] = set()
        if conn.dialect.name == "postgresql":
            policies = {r[0] for r in conn.execute(text(
                "SELECT tablename FROM pg_policies WHERE policyname = 'tenant_isolation'"))}
    engine.dispose()
    return tables, column, diff, policies & TABLES


def test_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    url = _database(tmp_path)
    config = alembic_config(url)
    command.upgrade(config, "heads")
    tables, column, diff, policies = _state(url)
    assert (tables, column, diff) == (TABLES, True, [])
    assert policies == (TABLES if BACKEND != "sqlite" else set())

    command.downgrade(config, "0009")
    tables, column, diff, policies = _state(url)
    assert (tables, column, policies) == (set(), False, set())
    assert diff  # the models now hold what the database lacks

    command.upgrade(config, "heads")
    tables, column, diff, _policies = _state(url)
    assert (tables, column, diff) == (TABLES, True, [])


@pytest.mark.postgres_only
async def test_the_audit_trail_is_append_only(client: httpx.AsyncClient, world: World,
                                              owner_engine: Any) -> None:
    await create_wechat(client, world.key("a"))
    table = "payment_channel_account_events"
    for statement in (f"UPDATE {table} SET action = 'x'", f"DELETE FROM {table}"):
        with pytest.raises(DBAPIError, match="append-only"), owner_engine.begin() as conn:
            conn.execute(text(statement))
