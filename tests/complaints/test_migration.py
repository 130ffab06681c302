"""Migration 0009_complaints goes up, down and up again on the test backend, and the
schema it builds is exactly the models' (no autogenerate difference)."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from qrefund.migrations.runner import alembic_config
from qrefund.platform.models import metadata
from tests.complaints.api import done, opened
from tests.conftest import BACKEND
from tests.refunds.helpers import record_txn
from tests.support.migrations import scratch_database

TABLES = {"complaint_tickets", "complaint_messages", "complaint_events", "complaint_attachments"}
POLICY_COLUMNS = {"complaint_first_response_hours", "complaint_resolution_hours",
                  "complaint_reopen_window_days", "complaint_auto_close_days"}


def _database(tmp_path: Path) -> str:
    return scratch_database(tmp_path, "migrations")


def _state(url: str) -> tuple[set[str], set[str], list[object], set[str]]:
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        found = inspect(conn)
        tables = set(found.get_table_names()) & TABLES
        columns = {c["name"] for c in found.get_columns("refund_policies")} & POLICY_COLUMNS
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                metadata)
        policies: set[str] = set()
        if conn.dialect.name == "postgresql":
            policies = {r[0] for r in conn.execute(text(
                "SELECT tablename FROM pg_policies WHERE policyname = 'tenant_isolation'"))}
    engine.dispose()
    return tables, columns, diff, policies & TABLES


def test_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    url = _database(tmp_path)
    config = alembic_config(url)
    command.upgrade(config, "heads")
    tables, columns, diff, policies = _state(url)
    assert (tables, columns, diff) == (TABLES, POLICY_COLUMNS, [])
    assert policies == (TABLES if BACKEND != "sqlite" else set())

    command.downgrade(config, "0008")
    tables, columns, diff, policies = _state(url)
    assert (tables, columns, policies) == (set(), set(), set())
    assert diff  # the models now hold what the database lacks

    command.upgrade(config, "heads")
    tables, columns, diff, _policies = _state(url)
    assert (tables, columns, diff) == (TABLES, POLICY_COLUMNS, [])


@pytest.mark.postgres_only
async def test_the_thread_and_the_timeline_are_append_only(client, db, world, owner_engine):
    ticket = await opened(client, world.key("a", "SUPPORT"), txn=await record_txn(db, world))
    await done(client, "ReplyToComplaint", world.key("a", "SUPPORT"), id=ticket["id"],
               message="Hello")
    for table in ("complaint_messages", "complaint_events"):
        for statement in (f"UPDATE {table} SET tenant_id = tenant_id", f"DELETE FROM {table}"):
            with pytest.raises(DBAPIError, match="append-only"), owner_engine.begin() as conn:
                conn.execute(text(statement))
