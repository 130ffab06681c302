"""A scratch database for migration tests (up, down, up again on the test backend)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from qrefund.platform.db import sync_url
from tests.conftest import BACKEND, PG_URL


def scratch_database(tmp_path: Path, suffix: str = "migrations") -> str:
    """An empty database's URL: a file under ``tmp_path`` on SQLite, or
    ``<test database>_<suffix>`` dropped and created anew on PostgreSQL."""
    if BACKEND == "sqlite":
        return f"sqlite+pysqlite:///{tmp_path / f'{suffix}.db'}"
    url = make_url(sync_url(PG_URL))
    name = f"{url.database}_{suffix}"
    admin = create_engine(url.set(database="postgres"), poolclass=NullPool,
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def table_state(url: str, table: str) -> tuple[bool, list[object], bool]:
    """Whether ``table`` exists, what autogenerate finds between the models and the
    database (empty: they agree), and whether PostgreSQL holds its tenant policy."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import inspect

    from qrefund.platform.models import metadata

    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        present = table in inspect(conn).get_table_names()
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                metadata)
        policy = False
        if conn.dialect.name == "postgresql":
            policy = bool(conn.execute(text(
                "SELECT 1 FROM pg_policies WHERE tablename = :table "
                "AND policyname = 'tenant_isolation'"), {"table": table}).first())
    engine.dispose()
    return present, diff, policy
