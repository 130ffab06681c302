"""Migration 0013_portal goes up, down and up again, and leaves no model drift."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlalchemy.pool import NullPool

from qrefund.migrations.runner import alembic_config
from qrefund.platform.models import metadata
from tests.support.migrations import scratch_database

COLUMNS = {"contact_phone_fp", "contact_email_fp"}
INDEXES = {"ix_refund_cases_phone_fp", "ix_refund_cases_email_fp",
           "ix_complaint_tickets_contact_phone", "ix_complaint_tickets_contact_email"}


def _database(tmp_path: Path) -> str:
    return scratch_database(tmp_path, "portal_mig")


def _state(url: str) -> tuple[set[str], set[str], list[object]]:
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        found = inspect(conn)
        columns = {c["name"] for c in found.get_columns("refund_cases")} & COLUMNS
        indexes = {i["name"] for table in ("refund_cases", "complaint_tickets")
                   for i in found.get_indexes(table)} & INDEXES
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                metadata)
    engine.dispose()
    return columns, {str(i) for i in indexes}, diff


def test_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    url = _database(tmp_path)
    config = alembic_config(url)
    command.upgrade(config, "heads")
    assert _state(url) == (COLUMNS, INDEXES, [])
    command.downgrade(config, "0009")
    columns, indexes, diff = _state(url)
    assert (columns, indexes) == (set(), set()) and diff
    command.upgrade(config, "heads")
    assert _state(url) == (COLUMNS, INDEXES, [])
