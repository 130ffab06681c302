"""Migration 0021 (archived_records) goes up, down and up again on the test backend; the
schema is exactly the models', the table has its RLS policy, and the append-only
trigger function lets deletes through only for a unit that set qrefund.archiving."""

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
from tests.conftest import BACKEND
from tests.support.migrations import scratch_database


def _state(url: str) -> tuple[bool, list[object], bool]:
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        present = "archived_records" in inspect(conn).get_table_names()
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                metadata)
        policy = conn.dialect.name == "postgresql" and bool(conn.execute(text(
            "SELECT 1 FROM pg_policies WHERE tablename = 'archived_records' "
            "AND policyname = 'tenant_isolation'")).first())
    engine.dispose()
    return present, diff, policy


def test_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    url = scratch_database(tmp_path, "retention_migrations")
    config = alembic_config(url)
    command.upgrade(config, "heads")
    assert _state(url) == (True, [], BACKEND != "sqlite")
    command.downgrade(config, "0016")
    present, diff, policy = _state(url)
    assert (present, policy) == (False, False)
    assert diff
    command.upgrade(config, "heads")
    assert _state(url)[:2] == (True, [])


@pytest.mark.postgres_only
def test_timelines_stay_append_only_unless_archiving(tmp_path: Path) -> None:
    url = scratch_database(tmp_path, "retention_trigger")
    command.upgrade(alembic_config(url), "heads")
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            # (no rows needed: the trigger fires per row, so give it one of its own)
            conn.execute(text("CREATE TEMP TABLE timeline (id int)"))
            conn.execute(text("CREATE TRIGGER t BEFORE UPDATE OR DELETE ON timeline "
                              "FOR EACH ROW EXECUTE FUNCTION qrefund_append_only()"))
            conn.execute(text("INSERT INTO timeline VALUES (1), (2)"))
            with pytest.raises(DBAPIError, match="append-only"), conn.begin_nested():
                conn.execute(text("DELETE FROM timeline WHERE id = 1"))
            conn.execute(text("SELECT set_config('qrefund.archiving', 'on', true)"))
            with pytest.raises(DBAPIError, match="append-only"), conn.begin_nested():
                conn.execute(text("UPDATE timeline SET id = 3"))
            conn.execute(text("DELETE FROM timeline WHERE id = 1"))
            assert conn.execute(text("SELECT id FROM timeline")).scalars().all() == [2]
    finally:
        engine.dispose()
