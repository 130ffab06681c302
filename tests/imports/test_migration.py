"""Migration 0018_transaction_imports goes up, down and up again on the test backend, and the
schema it builds is exactly the models' (no autogenerate difference)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from qrefund.migrations.runner import alembic_config
from qrefund.platform.db import sync_url
from qrefund.platform.models import metadata
from tests.conftest import BACKEND, PG_URL


def _database(tmp_path: Path) -> str:
    if BACKEND == "sqlite":
        return f"sqlite+pysqlite:///{tmp_path / 'migrations.db'}"
    url = make_url(sync_url(PG_URL))
    name = f"{url.database}_imports_migrations"
    admin = create_engine(url.set(database="postgres"), poolclass=NullPool,
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def _state(url: str) -> tuple[bool, list[object], bool]:
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        present = "transaction_imports" in inspect(conn).get_table_names()
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                metadata)
        policy = False
        if conn.dialect.name == "postgresql":
            policy = bool(conn.execute(text(
                "SELECT 1 FROM pg_policies WHERE tablename = 'transaction_imports' "
                "AND policyname = 'tenant_isolation'")).first())
    engine.dispose()
    return present, diff, policy


def test_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    url = _database(tmp_path)
    config = alembic_config(url)
    command.upgrade(config, "heads")
    assert _state(url) == (True, [], BACKEND != "sqlite")
    command.downgrade(config, "0016")
    present, diff, policy = _state(url)
    assert (present, policy) == (False, False)
    assert diff  # the models now hold what the database lacks
    command.upgrade(config, "heads")
    assert _state(url)[:2] == (True, [])
