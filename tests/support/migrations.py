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
