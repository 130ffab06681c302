"""Migration 0025 (the refund-bill day index on payouts) goes down and up again on the
test backend, and the schema it builds is exactly the models'."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlalchemy.pool import NullPool

from qrefund.migrations.runner import alembic_config
from qrefund.platform.models import metadata
from tests.support.migrations import scratch_database

INDEX = "ix_payouts_bill_day"


def _state(url: str) -> tuple[bool, list[Any]]:
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        indexed = INDEX in {i["name"] for i in inspect(conn).get_indexes("payouts")}
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                metadata)
    engine.dispose()
    return indexed, diff


def test_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    url = scratch_database(tmp_path, "bill_day_migrations")
    config = alembic_config(url)
    command.upgrade(config, "heads")
    assert _state(url) == (True, [])
    command.downgrade(config, "0025-1")
    indexed, diff = _state(url)
    assert not indexed and diff  # the models now hold what the database lacks
    command.upgrade(config, "heads")
    assert _state(url) == (True, [])
