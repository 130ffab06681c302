"""Migrations 0019_refund_stats and 0024_refund_stats_months go up, down and up again
on the test backend, and the schema they build is exactly the models' (no autogenerate
difference)."""

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


def _state(url: str) -> tuple[bool, list[object], bool]:
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        present = {"refund_stats_days", "refund_stats_months"} <= set(
            inspect(conn).get_table_names())
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                metadata)
        policy = False
        if conn.dialect.name == "postgresql":
            policy = conn.execute(text(
                "SELECT count(*) FROM pg_policies WHERE tablename IN ('refund_stats_days', "
                "'refund_stats_months') AND policyname = 'tenant_isolation'")).scalar() == 2
    engine.dispose()
    return present, diff, policy


def test_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    url = scratch_database(tmp_path, "stats_migrations")
    config = alembic_config(url)
    command.upgrade(config, "heads")
    assert _state(url) == (True, [], BACKEND != "sqlite")
    command.downgrade(config, "0016")
    present, diff, policy = _state(url)
    assert (present, policy) == (False, False)
    assert diff  # the models now hold what the database lacks
    command.upgrade(config, "heads")
    assert _state(url)[:2] == (True, [])
