"""Transaction imports: the job behind ``importTransactions``, and the operator's CLI
(``qrefund import-transactions FILE --merchant ID``).

``transaction_import.requested`` -> :func:`run_import`: the record is read in the
merchant's job scope (as ``import``), the stored file is streamed through the
importer (batches of rows, each its own unit of work), the counts are written after
each batch so ``transactionImport(id)`` shows progress, and refused rows go to the
error report (a CSV file beside the upload, downloaded by a signed link). A replayed
job finds the import finished and does nothing; a job that breaks marks it FAILED
(never retried: rows are idempotent, upload again) and lands in RQ's failed registry.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from qrefund.jobs import runtime
from qrefund.jobs.registry import QUEUE_MAINTENANCE, EventMessage, JobSpec, on_event
from qrefund.jobs.worker import bind
from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from qrefund.platform.errors import DomainError
from qrefund.platform.exports.files import RowWriter
from qrefund.platform.exports.models import ExportFormat
from qrefund.platform.imports import service, storage
from qrefund.platform.imports.importer import REPORT_COLUMNS, ImportResult, import_file
from qrefund.platform.imports.models import ImportStatus
from qrefund.platform.imports.reader import FileRefused

log = logging.getLogger(__name__)

RUN_IMPORT = "qrefund.jobs.imports.run_import"
# A 1,000,000-row file takes tens of minutes (README "Exports and imports"): far over the
# common job timeout. A killed job leaves the import RUNNING; replayed, it starts over.
IMPORT_TIMEOUT = 6 * 3600


@on_event("transaction_import.requested")
def on_import_requested(event: EventMessage) -> Iterable[JobSpec]:
    yield JobSpec(QUEUE_MAINTENANCE, RUN_IMPORT, (str(event.tenant_id), str(event.aggregate_id)),
                  job_id=f"import-{event.tenant_id}-{event.aggregate_id}", retry_intervals=(),
                  meta={"tenant_id": str(event.tenant_id), "import_id": str(event.aggregate_id)},
                  timeout=IMPORT_TIMEOUT)


async def run_import(tenant_id: str, import_id: str) -> dict[str, Any]:
    """Job: record the stored file's rows and mark the import SUCCEEDED (or FAILED)."""
    tid, iid = uuid.UUID(tenant_id), uuid.UUID(import_id)
    bind(tenant_id=tid)
    db, scope = runtime.database(), runtime.job_scope(tid, "import")
    async with db.unit_of_work(scope) as uow:
        record = await service.begin(uow, tid, iid)
        found = None if record is None else (record.storage_key, record.format)
    if found is None:
        return {"status": "done before"}
    key, fmt = found
    root = runtime.settings().export_dir
    report_key = storage.report_key(tid, iid)
    result = ImportResult()

    async def progress(counts: ImportResult) -> None:
        result.rows, result.recorded, result.failed = counts.rows, counts.recorded, counts.failed
        async with db.unit_of_work(scope) as unit:
            await service.progress(unit, tid, iid, done=counts.rows, recorded=counts.recorded,
                                   failed=counts.failed)

    status, error = ImportStatus.SUCCEEDED, None
    try:
        with storage.path(root, key).open("rb") as source, RowWriter(
                storage.path(root, report_key), ExportFormat.CSV, REPORT_COLUMNS) as report:
            try:
                await import_file(db, scope, tid, source, fmt, report, progress=progress)
            except FileRefused as refused:
                status, error = ImportStatus.FAILED, f"{refused.error.code}: {refused}"
                report.write([{"row": refused.error.row, "field": refused.error.field,
                               "code": refused.error.code, "message": str(refused)}])
            except DomainError as refused:  # the merchant as a whole (suspended meanwhile)
                status, error = ImportStatus.FAILED, f"{refused.code}: {refused}"
            report.commit()
    except Exception:
        async with db.unit_of_work(scope) as uow:
            await service.finish(uow, tid, iid, status=ImportStatus.FAILED, done=result.rows,
                                 recorded=result.recorded, failed=result.failed,
                                 report_key=None, error="the import job failed; upload again")
        raise
    async with db.unit_of_work(scope) as uow:
        await service.finish(uow, tid, iid, status=status, done=result.rows,
                             recorded=result.recorded, failed=result.failed,
                             report_key=report_key, error=error)
    log.info("import %s: %d rows, %d recorded, %d refused", iid, result.rows, result.recorded,
             result.failed)
    return {"status": status.value, "rows": result.rows, "recorded": result.recorded,
            "failed": result.failed}


def operator_import(settings: Settings, merchant_id: uuid.UUID, source: Path, fmt: str,
                    report: Path) -> ImportResult:
    """Raises :class:`~qrefund.platform.imports.reader.FileRefused` for a file whose
    CSV header is wrong (nothing recorded, no report written)."""
    db = Database(settings, pooled=False)

    async def go() -> ImportResult:
        try:
            with source.open("rb") as data, RowWriter(report, ExportFormat.CSV,
                                                      REPORT_COLUMNS) as out:
                result = await import_file(db, runtime.job_scope(merchant_id, "import"),
                                           merchant_id, data, fmt, out)
                out.commit()
                return result
        finally:
            await db.dispose()

    return asyncio.run(go())
