"""`qrefund import-transactions`, run as an operator runs it: in a subprocess, on a demo
database. Bad rows land in the report, good rows land in the database, twice is once."""

from __future__ import annotations

import csv
import json
import sqlite3
import uuid
from pathlib import Path

from tests.foundation.test_cli import run

HEADER = "merchant_order_no,channel,provider_reference,amount,currency,status,paid_at\n"


def _merchant(db_file: Path) -> str:
    with sqlite3.connect(db_file) as conn:
        (tenant,) = conn.execute("SELECT id FROM tenants WHERE kind = 'MERCHANT' "
                                 "ORDER BY slug LIMIT 1").fetchone()
    return str(uuid.UUID(tenant))


def _count(db_file: Path, merchant: str, prefix: str) -> int:
    with sqlite3.connect(db_file) as conn:
        (n,) = conn.execute("SELECT count(*) FROM transactions WHERE tenant_id = ? AND "
                            "merchant_order_no LIKE ?",
                            (uuid.UUID(merchant).hex, f"{prefix}%")).fetchone()
    return int(n)


def _report(path: Path) -> list[tuple[str, str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return [(r["row"], r["field"], r["code"]) for r in csv.DictReader(f)]


def test_a_malformed_csv_lands_its_good_rows_and_reports_the_rest(tmp_path: Path) -> None:
    assert run(tmp_path, "migrate").returncode == 0
    assert run(tmp_path, "demo").returncode == 0
    merchant = _merchant(tmp_path / "cli.db")
    good = "IMP-1,WECHAT_PAY,wx-1,12.50,CNY,SUCCEEDED,2026-10-01T10:00:00+08:00\n"
    with (tmp_path / "in.csv").open("wb") as f:
        f.write(b"\xef\xbb\xbf" + HEADER.encode())                           # line 1
        f.write(good.encode())                                                # 2
        f.write(b"IMP-2,ALIPAY,ali-2,3.00,CNY,SUCCEEDED,2026-10-01T11:00:00+08:00\n")  # 3
        f.write(b"IMP-1,WECHAT_PAY,wx-1,99.00,CNY,SUCCEEDED,2026-10-01T10:00:00+08:00\n")  # 4
        f.write(b"IMP-3,ALIPAY,ali-3\n")                                      # 5: columns
        f.write(b"IMP-4,ALIPAY,\xff\xfe,1.00,CNY,SUCCEEDED,2026-10-01T11:00:00+08:00\n")  # 6
        f.write(b"IMP-5," + b"x" * (10 * 1024 * 1024) + b"\n")                # 7: 10 MB
        f.write(b"IMP-6,PAYPAL,pp-6,1.00,CNY,SUCCEEDED,2026-10-01T11:00:00+08:00\n")  # 8
        f.write(b"IMP-7,ALIPAY,ali-7,1.00,CNY,SUCCEEDED,2026-10-01T11:00:00\n")  # 9: naive
        f.write(b"IMP-8,ECNY,e-8,7.00,CNY,SUCCEEDED,2026-10-02T09:00:00+08:00\n")  # 10
    done = run(tmp_path, "import-transactions", "in.csv", "--merchant", merchant)
    assert done.returncode == 0, done.stderr
    assert "9 rows: 3 recorded, 6 refused" in done.stdout
    assert _report(tmp_path / "in.csv.errors.csv") == [
        ("4", "amount", "ORDER_NO_CONFLICT"), ("5", "line", "WRONG_COLUMNS"),
        ("6", "line", "BAD_ENCODING"), ("7", "line", "LINE_TOO_LONG"),
        ("8", "channel", "INVALID_INPUT"), ("9", "paidAt", "INVALID_DATETIME")]
    assert _count(tmp_path / "cli.db", merchant, "IMP-") == 3
    # Twice is once: the same rows are recorded again as they are, nothing new.
    again = run(tmp_path, "import-transactions", "in.csv", "--merchant", merchant)
    assert "3 recorded, 6 refused" in again.stdout
    assert _count(tmp_path / "cli.db", merchant, "IMP-") == 3


def test_jsonl_and_a_wrong_header(tmp_path: Path) -> None:
    assert run(tmp_path, "migrate").returncode == 0
    assert run(tmp_path, "demo").returncode == 0
    merchant = _merchant(tmp_path / "cli.db")
    row = {"merchant_order_no": "JS-1", "channel": "ALIPAY", "provider_reference": "a-1",
           "amount": "5.00", "currency": "CNY", "status": "SUCCEEDED",
           "paid_at": "2026-10-01T10:00:00+08:00"}
    lines = [json.dumps(row), "[1, 2]", json.dumps({**row, "merchant_order_no": "JS-2",
                                                     "surprise": 1})]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")
    done = run(tmp_path, "import-transactions", "in.jsonl", "--merchant", merchant)
    assert "3 rows: 1 recorded, 2 refused" in done.stdout, done.stderr
    assert [c for _r, _f, c in _report(tmp_path / "in.jsonl.errors.csv")] == [
        "BAD_JSON", "WRONG_COLUMNS"]
    (tmp_path / "bad.csv").write_text("order,amount\nX,1\n")
    refused = run(tmp_path, "import-transactions", "bad.csv", "--merchant", merchant)
    assert refused.returncode == 2 and "import refused" in refused.stderr
    assert _count(tmp_path / "cli.db", merchant, "X") == 0
