"""Export throughput and memory: N transactions of one merchant written to CSV and JSONL.

    .venv/bin/python -m bench.exports [--rows 200000] [--batch 1000] [--skip-load]

Re-creates the database named by QREFUND_BENCH_EXPORTS_DATABASE_URL (default
``qrefund_bench_exports``, its own so other benchmarks keep theirs), migrates, loads
N transactions by COPY (bench.generate's rows: one merchant, a year of payments, 1 in
10 with an encrypted payer), then writes the export file exactly as the job does
(:func:`qrefund.platform.exports.runner.write_file`: keyset batches, one read-only
unit each, the merchant's job scope) and prints, per format: rows/s, file size, the
peak of Python allocations during the write (tracemalloc, a second pass: it slows
the run) and the process's peak RSS. Constant memory shows as the same
tracemalloc peak for any N.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import tempfile
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg

from bench.common import ENCRYPTION_KEY, libpq_url, recreate_database
from bench.generate import load
from qrefund.jobs import runtime
from qrefund.migrations.runner import migrate
from qrefund.platform.clock import utcnow
from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from qrefund.platform.exports import runner
from qrefund.platform.exports.models import ExportFormat, ExportKind
from qrefund.platform.exports.rows import Spec

DATABASE_URL = os.environ.get(
    "QREFUND_BENCH_EXPORTS_DATABASE_URL",
    "postgresql+psycopg://postgres@127.0.0.1:5432/qrefund_bench_exports")


def _load(rows: int) -> None:
    recreate_database(DATABASE_URL)
    migrate(Settings(database_url=DATABASE_URL, _env_file=None))  # type: ignore[call-arg]
    args = argparse.Namespace(agencies=0, merchants_per_agency=0, standalone=1,
                              transactions=rows, keys=0, seed=7)
    with psycopg.connect(libpq_url(DATABASE_URL)) as conn:
        load(conn, args)


def _merchant() -> Any:
    with psycopg.connect(libpq_url(DATABASE_URL)) as conn:
        row = conn.execute("SELECT tenant_id FROM transactions LIMIT 1").fetchone()
    assert row is not None, "no transactions: run without --skip-load"
    return row[0]


async def _write(db: Database, spec: Spec, out: Path, batch: int) -> tuple[int, int, float]:
    started = time.perf_counter()
    rows, size = await runner.write_file(db, lambda m: runtime.job_scope(m, "bench"), spec,
                                         out, batch_size=batch)
    return rows, size, time.perf_counter() - started


async def _run(spec: Spec, out: Path, batch: int, traced: bool) -> tuple[int, int, float, int]:
    settings = Settings(database_url=DATABASE_URL, encryption_key=ENCRYPTION_KEY,
                        _env_file=None)  # type: ignore[call-arg]
    db = Database(settings)
    try:
        if traced:
            tracemalloc.start()
        rows, size, took = await _write(db, spec, out, batch)
        peak = tracemalloc.get_traced_memory()[1] if traced else 0
        tracemalloc.stop()
        return rows, size, took, peak
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=runner.BATCH_SIZE)
    parser.add_argument("--skip-load", action="store_true", help="reuse the loaded database")
    args = parser.parse_args()
    if not args.skip_load:
        started = time.perf_counter()
        _load(args.rows)
        print(f"loaded {args.rows} transactions in {time.perf_counter() - started:.1f}s")
    now = utcnow()
    for fmt in (ExportFormat.CSV, ExportFormat.JSONL):
        spec = Spec(_merchant(), _merchant(), ExportKind.TRANSACTIONS, fmt, (_merchant(),),
                    now - timedelta(days=366), now + timedelta(days=1), {})
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / f"bench.{fmt.value.lower()}"
            rows, size, took, _ = asyncio.run(_run(spec, out, args.batch, traced=False))
            _r, _s, _t, peak = asyncio.run(_run(spec, out, args.batch, traced=True))
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{fmt.value:5} {rows} rows in {took:.1f}s = {rows / took:,.0f} rows/s; "
              f"file {size / 1e6:.1f} MB; Python allocations peak {peak / 1e6:.1f} MB "
              f"(tracemalloc); process peak RSS {rss:.0f} MB")


if __name__ == "__main__":
    main()
