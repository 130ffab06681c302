"""The `qrefund` command line, run as a user runs it: in a subprocess."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qrefund.graphql_schema.schema import SDL_PATH, print_sdl
from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from qrefund.platform.roles import Role
from qrefund.platform.scope import TenantKind
from qrefund.tenants.auth import authenticate

KEY = "cli:" + "B" * 43


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("QREFUND_")}
    clean.update(
        {
            "QREFUND_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
            "QREFUND_ENCRYPTION_KEY": KEY,
            **env,
        }
    )
    return subprocess.run(
        [sys.executable, "-m", "qrefund", *args],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("QREFUND_DATABASE_URL", "mysql://x"),
        ("QREFUND_PORT", "eighty"),
        ("QREFUND_ENVIRONMENT", "staging"),
        ("QREFUND_REDIS_URL", "http://cache"),
    ],
)
def test_configuration_errors_name_the_setting(tmp_path: Path, setting: str, value: str) -> None:
    result = run(tmp_path, "migrate", **{setting: value})
    assert result.returncode != 0
    assert setting in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_bootstrap_prints_the_key_alone_on_its_last_line(tmp_path: Path) -> None:
    migrated = run(tmp_path, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    first = run(tmp_path, "bootstrap")
    assert first.returncode == 0, first.stderr
    key = first.stdout.rstrip("\n").splitlines()[-1]
    assert key.startswith("qrk_") and " " not in key

    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        encryption_key=KEY,
        _env_file=None,
    )  # type: ignore[call-arg]

    async def check() -> None:
        db = Database(settings)
        try:
            scope = await authenticate(db, key)
        finally:
            await db.dispose()
        assert (scope.actor_kind, scope.role, scope.tenant_ids) == (
            TenantKind.OPERATOR,
            Role.ADMIN,
            None,
        )

    asyncio.run(check())
    again = run(tmp_path, "bootstrap")
    assert again.returncode == 1
    assert "exists already" in again.stderr and "qrk_" not in again.stdout


def test_demo_seeds_an_empty_database_once(tmp_path: Path) -> None:
    assert run(tmp_path, "migrate").returncode == 0
    demo = run(tmp_path, "demo")
    assert demo.returncode == 0, demo.stderr
    lines = demo.stdout.strip().splitlines()
    assert any(line.startswith("operator ADMIN") for line in lines)
    assert sum("qrk_" in line for line in lines) >= 8
    again = run(tmp_path, "demo")
    assert again.returncode == 1 and "already has tenants" in again.stderr


def test_export_schema_writes_the_sdl(tmp_path: Path) -> None:
    target = tmp_path / "schema.graphql"
    result = run(tmp_path, "export-schema", str(target))
    assert result.returncode == 0, result.stderr
    assert target.read_text() == print_sdl()


def test_committed_sdl_matches_the_code() -> None:
    assert SDL_PATH.read_text() == print_sdl(), (
        "schema.graphql is stale: run `qrefund export-schema` and commit it"
    )
