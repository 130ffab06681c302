"""A scratch database of its own, migrated step by step (upgrade, downgrade), on the
suite's backend: PostgreSQL (``<test database>_migrations``) or a SQLite file."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

from qrefund.migrations.runner import alembic_config, migrate
from qrefund.platform.clock import utcnow
from qrefund.platform.config import Settings
from qrefund.platform.db import sync_url
from qrefund.platform.models import metadata
from qrefund.platform.sqltypes import UTCDateTime

TENANTS = sa.table(
    "tenants", sa.column("id", sa.Uuid()), sa.column("kind", sa.String()),
    sa.column("name", sa.String()), sa.column("slug", sa.String()),
    sa.column("timezone", sa.String()), sa.column("country", sa.String()),
    sa.column("default_currency", sa.String()), sa.column("status", sa.String()),
    sa.column("created_at", UTCDateTime()))


@dataclass
class Scratch:
    settings: Settings
    engine: Engine  # the owner: past row-level security

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def upgrade(self, revision: str) -> None:
        migrate(self.settings, revision)

    def downgrade(self, revision: str) -> None:
        command.downgrade(alembic_config(sync_url(self.settings.database_url)), revision)

    def run(self, statement: Any, *rows: dict[str, Any]) -> list[Any]:
        with self.engine.begin() as conn:
            result = conn.execute(statement, list(rows) if rows else None)
            return list(result) if result.returns_rows else []

    def tenant(self) -> uuid.UUID:
        tenant_id = uuid.uuid4()
        self.run(TENANTS.insert(), {"id": tenant_id, "kind": "MERCHANT", "name": "M",
                                    "slug": f"m-{tenant_id.hex[:8]}", "timezone": "UTC",
                                    "country": "CN", "default_currency": "CNY",
                                    "status": "ACTIVE", "created_at": utcnow()})
        return tenant_id

    def primary_key(self, table: str) -> list[str]:
        return list(sa.inspect(self.engine).get_pk_constraint(table)["constrained_columns"])

    def index_sql(self, name: str) -> str:
        """How the database itself spells an index (its WHERE clause included)."""
        if self.is_postgres:
            query = "SELECT indexdef FROM pg_indexes WHERE indexname = :n"
        else:
            query = "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :n"
        found = self.run(sa.text(query).bindparams(n=name))
        return str(found[0][0]) if found else ""

    def row_security(self, table: str) -> tuple[bool, bool, list[str]]:
        """(enabled, forced, policies) of a table (PostgreSQL)."""
        (enabled, forced), = self.run(sa.text(
            "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = :t"
        ).bindparams(t=table))
        policies = [r[0] for r in self.run(sa.text(
            "SELECT policyname FROM pg_policies WHERE tablename = :t").bindparams(t=table))]
        return bool(enabled), bool(forced), policies

    def drift(self) -> list[Any]:
        """What differs between the migrated schema and the models (nothing, at head)."""
        with self.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))


@contextmanager
def scratch_database(settings: Settings, tmp_path: Path) -> Iterator[Scratch]:
    """A new, empty database (nothing migrated yet), dropped afterwards."""
    url = settings.database_url
    admin = None
    if url.startswith("postgresql"):
        parsed = make_url(sync_url(url))
        name = f"{parsed.database}_migrations"
        admin = sa.create_engine(parsed.set(database="postgres"), poolclass=NullPool,
                                 isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = parsed.set(database=name).render_as_string(hide_password=False)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'scratch.db'}"
    scratch_settings = settings.model_copy(update={"database_url": url})
    engine = sa.create_engine(sync_url(url), poolclass=NullPool)
    try:
        yield Scratch(scratch_settings, engine)
    finally:
        engine.dispose()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(sa.text(
                    f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
            admin.dispose()
