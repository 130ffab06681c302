"""The export job: ``export.requested`` -> :func:`run_export`, which streams the file.

The record is read once in the owner's scope; rows are read merchant by merchant,
each batch in that merchant's own job scope (the merchants were checked against the
caller's scope when the export was asked for), and ``rows_done`` is written after
each batch so ``export(id)`` shows progress. A replayed job finds the export finished
and does nothing; a failed one marks it FAILED (never retried: ask again) and lands
in RQ's failed registry for operators.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from qrefund.jobs import runtime
from qrefund.jobs.registry import QUEUE_MAINTENANCE, EventMessage, JobSpec, on_event
from qrefund.jobs.worker import bind
from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from qrefund.platform.exports import files, rows, runner, service
from qrefund.platform.exports.models import ExportFormat, ExportKind
from qrefund.platform.exports.rows import Spec

log = logging.getLogger(__name__)

RUN_EXPORT = "qrefund.jobs.exports.run_export"


@on_event("export.requested")
def on_export_requested(event: EventMessage) -> Iterable[JobSpec]:
    yield JobSpec(QUEUE_MAINTENANCE, RUN_EXPORT, (str(event.tenant_id), str(event.aggregate_id)),
                  job_id=f"export-{event.tenant_id}-{event.aggregate_id}", retry_intervals=(),
                  meta={"tenant_id": str(event.tenant_id), "export_id": str(event.aggregate_id)})


def _merchant_scope(merchant_id: uuid.UUID) -> Any:
    return runtime.job_scope(merchant_id, "export")


async def run_export(tenant_id: str, export_id: str) -> dict[str, Any]:
    """Job: write the export's file and mark it SUCCEEDED (or FAILED)."""
    tid, eid = uuid.UUID(tenant_id), uuid.UUID(export_id)
    bind(tenant_id=tid)
    db, owner = runtime.database(), runtime.job_scope(tid, "export")
    async with db.unit_of_work(owner, readonly=True) as uow:
        record = await service.find(uow, tid, eid)
        spec = Spec.of(record) if record is not None else None
        finished = record is not None and record.status in service.FINISHED
    if spec is None or finished:
        return {"status": "missing" if spec is None else "done before"}
    total = await runner.count_rows(db, _merchant_scope, spec)
    async with db.unit_of_work(owner) as uow:
        started = await service.begin(uow, tid, eid, total) is not None
    if not started:
        return {"status": "done before"}

    async def progress(done: int) -> None:
        async with db.unit_of_work(owner) as unit:
            await service.progress(unit, tid, eid, done)

    key = files.storage_key(tid, eid, spec.format)
    try:
        path = files.path_of(runtime.settings().export_dir, key)
        written, size = await runner.write_file(db, _merchant_scope, spec, path,
                                                progress=progress)
    except Exception:
        async with db.unit_of_work(owner) as uow:
            await service.fail(uow, tid, eid, "the export job failed; ask for the export again")
        raise
    async with db.unit_of_work(owner) as uow:
        await service.finish(uow, tid, eid, rows=written, size=size, storage_key=key)
    log.info("export %s written: %d rows, %d bytes", eid, written, size)
    return {"status": "SUCCEEDED", "rows": written, "bytes": size}


async def export_to_path(spec: Spec, out: Path) -> tuple[int, int]:
    """The operator's CLI: the same rows straight into ``out`` (no record, no job)."""
    return await runner.write_file(runtime.database(), _merchant_scope, spec, out)


def operator_export(settings: Settings, kind: ExportKind, fmt: ExportFormat,
                    merchants: list[uuid.UUID], start: datetime, end: datetime,
                    filters: dict[str, list[str]], out: Path) -> tuple[int, int]:
    """``qrefund export``: the operator's file, written here and now with the same rows
    and checks as the job (the period rule; filters parsed as the API parses them).
    Raises :class:`DomainError` for bad input."""
    service.check_period(start, end)
    spec = Spec(uuid.UUID(int=0), uuid.uuid4(), kind, fmt, tuple(sorted(set(merchants))),
                start, end, filters)
    check: Any = rows.case_filter if kind == ExportKind.REFUND_CASES else rows.transaction_filter
    check(spec, spec.merchant_ids[0])  # an unknown status raises ValueError now, not mid-file
    db = Database(settings, pooled=False)
    runtime.configure(settings=settings, db=db)

    async def go() -> tuple[int, int]:
        try:
            return await export_to_path(spec, out)
        finally:
            await db.dispose()

    try:
        return asyncio.run(go())
    finally:
        runtime.reset()
