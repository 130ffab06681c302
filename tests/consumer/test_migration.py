"""Migration 0011_consumer goes up, down and up again on the test backend, builds exactly
the models' schema, and puts evidence files under row-level security on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic import command

from qrefund.migrations.runner import alembic_config
from tests.complaints.test_migration import _database
from tests.conftest import BACKEND
from tests.support.migrations import table_state


def _state(url: str) -> tuple[bool, list[object], bool]:
    return table_state(url, "evidence_files")


def test_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    url = _database(tmp_path)
    config = alembic_config(url)
    command.upgrade(config, "heads")
    assert _state(url) == (True, [], BACKEND != "sqlite")
    command.downgrade(config, "0009")
    present, diff, secured = _state(url)
    assert not present and not secured and diff  # the model now holds what the database lacks
    command.upgrade(config, "heads")
    assert _state(url) == (True, [], BACKEND != "sqlite")
