"""Import throughput against its floor: N rows of a CSV file recorded through the
importer vs a plain COPY of the same file into a scratch table, and the importer's
memory (peak RSS, and RSS through the file: flat means streamed).

    .venv/bin/python -m bench.imports [--rows 20000] [--batch 500] [--row-path 1000]

Uses the database of ``bench.exports`` (QREFUND_BENCH_EXPORTS_DATABASE_URL, default
``qrefund_bench_exports``; it is created and loaded when missing). The file is written
to a temporary directory with fresh order numbers, COPYed into a temporary table of
text columns (the floor: parsing and writing only, no checks, no events), then
imported for the bench's merchant with
:func:`qrefund.platform.imports.importer.import_file` (the set-based path:
validation per row, one bulk insert, one batched event write per batch). ``--row-path``
rows of another file also go through the one-row path the importer used before
(``transactions.record`` in a savepoint per row, ~18 round trips a row) for the
"before" figure. Prints the rates, their ratios to the floor, and memory.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import secrets
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import psycopg

from bench.common import ENCRYPTION_KEY, libpq_url
from bench.exports import DATABASE_URL, _load, _merchant
from qrefund.jobs import runtime
from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from qrefund.platform.imports.importer import ImportResult, _command, import_file
from qrefund.platform.imports.reader import REQUIRED, Parsed, RowError, read
from qrefund.platform.transactions import service as transactions

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


class _Discard:
    """The error report (the bench file has no bad rows)."""

    def write(self, rows: Iterable[dict[str, Any]]) -> None:
        for _ in rows:
            pass


def _rss_mb() -> float:
    """The process's resident memory now (Linux /proc)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _settings() -> Settings:
    return Settings(database_url=DATABASE_URL, encryption_key=ENCRYPTION_KEY,
                    _env_file=None)  # type: ignore[call-arg]


async def _import(path: Path, batch: int, rows: int) -> tuple[float, int, int, list[float]]:
    db, merchant = Database(_settings()), _merchant()
    samples: list[float] = []
    step = max(rows // 10, 1)

    async def progress(done: ImportResult) -> None:
        if done.rows // step > len(samples) - 1:
            samples.append(_rss_mb())

    try:
        started = time.perf_counter()
        with path.open("rb") as f:
            result = await import_file(db, runtime.job_scope(merchant, "bench"), merchant, f,
                                       "CSV", _Discard(), batch_size=batch, progress=progress)
        return time.perf_counter() - started, result.recorded, result.failed, samples
    finally:
        await db.dispose()


async def _row_path(path: Path) -> tuple[float, int]:
    """The one-row path, as the importer ran it before: a savepoint and
    ``transactions.record`` per row, 500 rows per unit of work."""
    db, merchant = Database(_settings()), _merchant()
    scope, recorded = runtime.job_scope(merchant, "bench"), 0
    try:
        started = time.perf_counter()
        with path.open("rb") as f:
            rows = [r for r in read(f, "CSV") if isinstance(r, Parsed)]
        for at in range(0, len(rows), 500):
            async with db.unit_of_work(scope) as uow:
                for row in rows[at:at + 500]:
                    cmd = _command(merchant, row)
                    assert not isinstance(cmd, RowError)
                    async with uow.savepoint():
                        await transactions.record(uow, cmd)
                    recorded += 1
        return time.perf_counter() - started, recorded
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--row-path", type=int, default=1000,
                        help="rows through the one-row path (0: skip)")
    args = parser.parse_args()
    try:
        _merchant()
    except (psycopg.OperationalError, AssertionError):
        _load(1000)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.csv"
        _write_file(path, args.rows)
        floor = _copy(path)
        rate_floor = args.rows / floor
        print(f"COPY   {args.rows} rows in {floor:.2f}s = {rate_floor:,.0f} rows/s (floor)")
        if args.row_path:
            before = Path(tmp) / "before.csv"
            _write_file(before, args.row_path)
            took_before, done_before = asyncio.run(_row_path(before))
            rate_before = done_before / took_before
            print(f"before (one-row path) {done_before} rows in {took_before:.2f}s = "
                  f"{rate_before:,.0f} rows/s = {rate_before / rate_floor:.4f} of the floor")
        rss_start = _rss_mb()
        took, recorded, failed, samples = asyncio.run(_import(path, args.batch, args.rows))
    assert failed == 0 and recorded == args.rows, (recorded, failed)
    rate = args.rows / took
    print(f"after  (batch path, {args.batch} rows per statement) {args.rows} rows in "
          f"{took:.2f}s = {rate:,.0f} rows/s = {rate / rate_floor:.4f} of the floor "
          f"({took / floor:.0f}x slower)")
    if args.row_path:
        print(f"speed-up: {rate / rate_before:.1f}x the one-row path")
    print(f"memory: RSS {rss_start:.0f} MB before the import; through the file (each "
          f"tenth): {', '.join(f'{m:.0f}' for m in samples)} MB; peak RSS "
          f"{_peak_mb():.0f} MB")


if __name__ == "__main__":
    main()
