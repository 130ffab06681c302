"""The file writer on its own: keyset batches smaller than the data chain without gaps
or repeats across merchants, and a failed write leaves no file behind."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest

from qrefund.jobs import runtime
from qrefund.jobs.exports import export_to_path
from qrefund.platform.clock import utcnow
from qrefund.platform.exports import runner
from qrefund.platform.exports.models import ExportFormat, ExportKind
from qrefund.platform.exports.rows import Spec
from tests.exports.helpers import payment


def _spec(world, fmt: ExportFormat = ExportFormat.JSONL) -> Spec:
    now = utcnow()
    return Spec(world.operator_id, world.operator_id, ExportKind.TRANSACTIONS, fmt,
                (world.merchant_a, world.merchant_b), now - timedelta(days=1),
                now + timedelta(minutes=1), {})


async def test_small_batches_chain_without_gaps_or_repeats(db, world, tmp_path: Path,
                                                          workers):
    made = [await payment(db, world, "a") for _ in range(5)]
    made += [await payment(db, world, "b") for _ in range(3)]
    seen: list[int] = []

    async def progress(done: int) -> None:
        seen.append(done)

    out = tmp_path / "out.jsonl"
    rows, size = await runner.write_file(runtime.database(), lambda m: runtime.job_scope(m),
                                         _spec(world), out, progress=progress, batch_size=2)
    ids = [json.loads(line)["transaction_id"] for line in out.read_text().splitlines()]
    assert rows == 8 and size == out.stat().st_size
    assert sorted(ids) == sorted(str(t.id) for t in made)
    assert seen == [2, 4, 5, 7, 8]  # after each batch: a, a, a(1), b, b(1)


async def test_the_cli_path_writes_the_same_rows(db, world, tmp_path: Path, workers):
    await payment(db, world, "a", amount="1.05")
    out = tmp_path / "cli.csv"
    rows, _size = await export_to_path(_spec(world, ExportFormat.CSV), out)
    assert rows == 1 and "1.05" in out.read_text(encoding="utf-8-sig")


async def test_a_failed_write_leaves_no_file(db, world, tmp_path: Path, workers,
                                             monkeypatch: pytest.MonkeyPatch):
    await payment(db, world, "a")

    async def broken(*_args: object, **_kw: object) -> object:
        raise RuntimeError("database went away")

    monkeypatch.setattr(runner.rows, "batch", broken)
    out = tmp_path / "gone.csv"
    with pytest.raises(RuntimeError):
        await runner.write_file(runtime.database(), lambda m: runtime.job_scope(m),
                                _spec(world, ExportFormat.CSV), out)
    assert await asyncio.to_thread(lambda: list(tmp_path.iterdir())) == []
