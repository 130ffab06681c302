"""Import throughput against its floor: N rows of a CSV file recorded through the
importer vs a plain COPY of the same file into a scratch table.

    .venv/bin/python -m bench.imports [--rows 20000] [--batch 500]

Uses the database of ``bench.exports`` (QREFUND_BENCH_EXPORTS_DATABASE_URL, default
``qrefund_bench_exports``; it is created and loaded when missing). The file is written
to a temporary directory with fresh order numbers, COPYed into a temporary table of
text columns (the floor: parsing and writing only, no checks, no events), then
imported for the bench's merchant with
:func:`qrefund.platform.imports.importer.import_file` (validation, idempotency
look-up, savepoint, row, event per row). Prints both rates and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import random
import secrets
import tempfile
import time
from pathlib import Path

import psycopg

from bench.common import ENCRYPTION_KEY, libpq_url
from bench.exports import DATABASE_URL, _load, _merchant
from qrefund.jobs import runtime
from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from qrefund.platform.imports.importer import import_file
from qrefund.platform.imports.reader import REQUIRED

CHANNELS = ("WECHAT_PAY", "ALIPAY", "UNIONPAY_QR", "ECNY")


def _write_file(path: Path, rows: int) -> None:
    run, rng = secrets.token_hex(3), random.Random(5)
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write(",".join(REQUIRED) + "\n")
        for n in range(rows):
            f.write(f"B{run}-{n},{rng.choice(CHANNELS)},ref-{run}-{n},"
                    f"{rng.randint(100, 500_000) / 100:.2f},CNY,SUCCEEDED,"
                    f"2026-{rng.randint(1, 10):02d}-{rng.randint(1, 28):02d}T10:00:00+08:00\n")


def _copy(path: Path) -> float:
    with psycopg.connect(libpq_url(DATABASE_URL)) as conn:
        conn.execute("CREATE TEMP TABLE scratch (" +
                     ", ".join(f"{c} text" for c in REQUIRED) + ")")
        started = time.perf_counter()
        with conn.cursor().copy("COPY scratch FROM STDIN (FORMAT csv, HEADER true)") as copy, \
                path.open("rb") as f:
            while chunk := f.read(1 << 16):
                copy.write(chunk)
        conn.commit()
        return time.perf_counter() - started


async def _import(path: Path, batch: int) -> tuple[float, int, int]:
    settings = Settings(database_url=DATABASE_URL, encryption_key=ENCRYPTION_KEY,
                        _env_file=None)  # type: ignore[call-arg]
    db, merchant = Database(settings), _merchant()
    try:
        started = time.perf_counter()
        with path.open("rb") as f:
            result = await import_file(db, runtime.job_scope(merchant, "bench"), merchant, f,
                                       "CSV", io.StringIO(), batch_size=batch)
        return time.perf_counter() - started, result.recorded, result.failed
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    try:
        _merchant()
    except (psycopg.OperationalError, AssertionError):
        _load(1000)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.csv"
        _write_file(path, args.rows)
        floor = _copy(path)
        took, recorded, failed = asyncio.run(_import(path, args.batch))
    assert failed == 0 and recorded == args.rows, (recorded, failed)
    print(f"COPY   {args.rows} rows in {floor:.2f}s = {args.rows / floor:,.0f} rows/s (floor)")
    print(f"import {args.rows} rows in {took:.2f}s = {args.rows / took:,.0f} rows/s")
    print(f"ratio: the import runs at {floor / took:.3f} of the COPY floor "
          f"({took / floor:.0f}x slower)")


if __name__ == "__main__":
    main()
