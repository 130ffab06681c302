"""Migration 0020_risk_flags goes up, down and up again on the test backend, and the schema
it builds is exactly the models' (no autogenerate difference)."""

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


def _state(url: str) -> tuple[bool, bool, list[object], bool]:
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        inspector = inspect(conn)
        present = "risk_flags" in inspector.get_table_names()
        columns = {c["name"] for c in inspector.get_columns("transactions")}
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                metadata)
        policy = False
        if conn.dialect.name == "postgresql":
            policy = bool(conn.execute(text(
                "SELECT 1 FROM pg_policies WHERE tablename = 'risk_flags' "
                "AND policyname = 'tenant_isolation'")).first())
    engine.dispose()
    return present, "expected_amount_minor" in columns, diff, policy


def test_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    url = scratch_database(tmp_path, "risk_migrations")
    config = alembic_config(url)
    command.upgrade(config, "heads")
    assert _state(url) == (True, True, [], BACKEND != "sqlite")
    command.downgrade(config, "0016")
    present, column, diff, policy = _state(url)
    assert (present, column, policy) == (False, False, False)
    assert diff  # the models now hold what the database lacks
    command.upgrade(config, "heads")
    assert _state(url)[:3] == (True, True, [])
