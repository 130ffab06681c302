"""Migration 0018_transaction_imports goes up, down and up again on the test backend, and the
schema it builds is exactly the models' (no autogenerate difference)."""

from __future__ import annotations

from pathlib import Path

from alembic import command

from qrefund.migrations.runner import alembic_config
from tests.conftest import BACKEND
from tests.support.migrations import scratch_database, table_state


def test_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    url = scratch_database(tmp_path, "imports_migrations")
    config = alembic_config(url)
    command.upgrade(config, "heads")
    assert table_state(url, "transaction_imports") == (True, [], BACKEND != "sqlite")
    command.downgrade(config, "0016")
    present, diff, policy = table_state(url, "transaction_imports")
    assert (present, policy) == (False, False)
    assert diff  # the models now hold what the database lacks
    command.upgrade(config, "heads")
    assert table_state(url, "transaction_imports")[:2] == (True, [])
