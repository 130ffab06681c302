"""`qrefund export`, run as an operator runs it: in a subprocess, on a demo database."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.foundation.test_cli import run


def _merchant_with_payments(db_file: Path) -> tuple[str, int]:
    with sqlite3.connect(db_file) as conn:
        tenant, count = conn.execute(
            "SELECT tenant_id, count(*) FROM transactions GROUP BY tenant_id "
            "ORDER BY count(*) DESC LIMIT 1").fetchone()
    return str(uuid.UUID(tenant)), count  # SQLite keeps UUIDs as 32 hex digits


def test_export_transactions_to_a_csv_file(tmp_path: Path) -> None:
    assert run(tmp_path, "migrate").returncode == 0
    assert run(tmp_path, "demo").returncode == 0
    merchant, count = _merchant_with_payments(tmp_path / "cli.db")
    now = datetime.now(UTC)
    out = tmp_path / "out.csv"
    done = run(tmp_path, "export", "transactions", "--merchant", merchant,
               "--from", (now - timedelta(days=365)).isoformat(),
               "--to", (now + timedelta(days=1)).isoformat(), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert f"wrote {count} rows" in done.stdout
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfmerchant_id,transaction_id,")
    assert data.count(b"\r\n") == count + 1


def test_bad_periods_and_formats_are_refused(tmp_path: Path) -> None:
    assert run(tmp_path, "migrate").returncode == 0
    merchant = "01a22b28-9f97-768f-977f-50b7e363fe7e"
    for args in (("--from", "2026-02-01T00:00:00+00:00", "--to", "2026-01-01T00:00:00+00:00"),
                 ("--from", "2024-01-01T00:00:00+00:00", "--to", "2026-01-01T00:00:00+00:00"),
                 ("--from", "2026-01-01T00:00:00", "--to", "2026-01-02T00:00:00"),
                 ("--from", "2026-01-01T00:00:00+00:00", "--to", "2026-01-02T00:00:00+00:00",
                  "--format", "xlsx")):
        done = run(tmp_path, "export", "transactions", "--merchant", merchant, *args,
                   "--out", str(tmp_path / "x.csv"))
        assert done.returncode == 2 and "export refused" in done.stderr, done.stderr
        assert not (tmp_path / "x.csv").exists()
