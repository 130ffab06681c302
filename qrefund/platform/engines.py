"""The engines of a process: SQLite's (the embedded default) and PostgreSQL's pool.

What a connection is made to do when it opens (SQLite's pragmas, the API's role on
PostgreSQL) and how the pool keeps connections (``QREFUND_DB_POOL_*``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from qrefund.platform.config import Settings


def async_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def sync_url(url: str) -> str:
    """The same database for Alembic, which runs synchronously."""
    parsed = make_url(async_url(url))
    if parsed.drivername == "sqlite+aiosqlite":
        parsed = parsed.set(drivername="sqlite+pysqlite")
    return parsed.render_as_string(hide_password=False)


def sqlite_engine(url: str, *, immediate: bool) -> AsyncEngine:
    engine = create_async_engine(url, connect_args={"timeout": 30}, poolclass=NullPool)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control from the driver so BEGIN is ours to emit.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def postgres_engine(url: str, settings: Settings, *, pooled: bool) -> AsyncEngine:
    kwargs: dict[str, Any] = (
        {
            "pool_size": settings.db_pool_size,
            "max_overflow": settings.db_pool_overflow,
            "pool_timeout": settings.db_pool_timeout_seconds,
            # No pre-ping (a round trip per checkout): connections are recycled, and a
            # unit whose first statement meets a dead one retries (Database.unit_of_work).
            "pool_recycle": settings.db_pool_recycle_seconds,
        }
        if pooled
        else {"poolclass": NullPool}
    )
    if settings.db_transaction_pooler:
        # Prepared statements live in a server session, which a pooler shares.
        kwargs["connect_args"] = {"prepare_threshold": None}
    engine = create_async_engine(url, **kwargs)
    role = settings.db_app_role
    if role and not settings.db_transaction_pooler:  # else per transaction: apply_scope

        @event.listens_for(engine.sync_engine, "connect")
        def _act_as_app_role(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute(f'SET ROLE "{role}"')
            cur.close()
            dbapi_conn.commit()

    return engine
