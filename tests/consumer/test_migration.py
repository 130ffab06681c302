"""Migration 0011_consumer goes up, down and up again on the test backend, builds exactly
the models' schema, and puts evidence files under row-level security on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.pool import NullPool

from qrefund.migrations.runner import alembic_config
from qrefund.platform.models import metadata
from tests.complaints.test_migration import _database
from tests.conftest import BACKEND


def _state(url: str) -> tuple[bool, list[object], bool]:
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        present = "evidence_files" in inspect(conn).get_table_names()
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                metadata)
        secured = False
        if conn.dialect.name == "postgresql":
            secured = bool(conn.execute(text(
                "SELECT 1 FROM pg_policies WHERE policyname = 'tenant_isolation' "
                "AND tablename = 'evidence_files'")).first())
    engine.dispose()
    return present, diff, secured


def test_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    url = _database(tmp_path)
    config = alembic_config(url)
    command.upgrade(config, "heads")
    assert _state(url) == (True, [], BACKEND != "sqlite")
    command.downgrade(config, "0009")
    present, diff, secured = _state(url)
    assert not present and not secured and diff  # the model now holds what the database lacks
    command.upgrade(config, "heads")
    assert _state(url) == (True, [], BACKEND != "sqlite")
