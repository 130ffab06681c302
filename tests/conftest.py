"""Test fixtures: a real PostgreSQL (default) or SQLite database, real HTTP via ASGI.

``QREFUND_TEST_BACKEND=sqlite`` runs the same suite on SQLite. PostgreSQL tests
use a database of their own (``qrefund_test`` unless ``QREFUND_TEST_DATABASE_URL``
names another), recreated and migrated once per run; every test starts from
empty tables (TRUNCATE as the owner), and acts as the non-owner app role.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from redis import Redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from qrefund.app import create_app
from qrefund.migrations.runner import migrate
from qrefund.platform.config import Settings, get_settings
from qrefund.platform.crypto import key_ring
from qrefund.platform.db import Database, sync_url
from qrefund.platform.models import metadata
from tests.support.event_catalogue import check_emitted_events
from tests.support.world import World, build_world

BACKEND = os.environ.get("QREFUND_TEST_BACKEND", "postgres")
PG_URL = os.environ.get(
    "QREFUND_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/qrefund_test"
)
REDIS_URL = os.environ.get("QREFUND_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TEST_KEY = "test:" + "A" * 43  # base64url of 32 zero bytes; fixed so runs are repeatable
# Code that reads the process settings (key_ring(), the job runtime) must use the test
# key too, not a key file generated into the working directory.
os.environ["QREFUND_ENCRYPTION_KEY"] = TEST_KEY
os.environ.setdefault("QREFUND_ENVIRONMENT", "test")
get_settings.cache_clear()
key_ring.cache_clear()


def _recreate_pg_database(url: str) -> None:
    parsed = make_url(sync_url(url))
    admin = create_engine(
        parsed.set(database="postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    if BACKEND == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'qrefund.db'}"
    else:
        url = PG_URL
        _recreate_pg_database(url)
    s = Settings(
        database_url=url,
        encryption_key=TEST_KEY,
        environment="test",
        webhook_allow_private_targets=True,
        redis_url=REDIS_URL,
        # The suite makes thousands of requests from one address: limits are tested
        # on apps of their own (tests/foundation/test_rate_limits.py).
        rate_limit_per_key="100000/minute",
        rate_limit_anonymous="100000/minute",
        rate_limit_auth_failures="100000/minute",
        upload_dir=tmp_path_factory.mktemp("uploads"),
        export_dir=tmp_path_factory.mktemp("exports"),
        rate_limit_receipt_per_token="100000/minute",
        rate_limit_receipt_per_address="100000/minute",
        _env_file=None,  # type: ignore[call-arg]
    )
    migrate(s)
    return s


@pytest.fixture(scope="session")
def owner_engine(settings: Settings) -> Iterator[object]:
    engine = create_engine(sync_url(settings.database_url), poolclass=NullPool)
    yield engine
    engine.dispose()


@pytest.fixture(autouse=True)
def clean_tables(owner_engine: object, request: pytest.FixtureRequest) -> Iterator[None]:
    _clean(owner_engine)
    yield
    # Every event a test made the platform write must match the event catalogue
    # (tests that write made-up events to exercise the outbox itself say so).
    if request.node.get_closest_marker("synthetic_events") is None:
        check_emitted_events(owner_engine)


def _clean(owner_engine: object) -> None:
    tables = [t.name for t in reversed(metadata.sorted_tables)]
    with owner_engine.begin() as conn:  # type: ignore[attr-defined]
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
def redis_conn(settings: Settings) -> Iterator[Redis]:
    """The test Redis database, emptied before each test that uses it."""
    conn = Redis.from_url(settings.redis_url or REDIS_URL)
    conn.flushdb()
    yield conn
    conn.close()


@pytest.fixture(scope="session")
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings)
    yield database
    await database.dispose()


@pytest.fixture(scope="session")
def app(settings: Settings, db: Database) -> object:
    return create_app(settings, db)


@pytest.fixture
async def client(app: object) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def world(db: Database) -> World:
    return await build_world(db)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if BACKEND != "sqlite":
        return
    skip = pytest.mark.skip(reason="PostgreSQL-only behaviour (RLS, row locks)")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


__all__ = ["Path"]
