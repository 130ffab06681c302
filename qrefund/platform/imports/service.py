"""Uploading a transaction file and following its job: the import record's lifecycle.

``request`` checks the caller (RECORD_TRANSACTIONS: ADMIN and INTEGRATION keys) and
the merchant (in scope, a merchant, not suspended), stores the file and writes a
PENDING record owned by that merchant plus a ``transaction_import.requested`` event;
the relay turns the event into the job after commit (:mod:`qrefund.jobs.imports`).
The job moves the record to RUNNING, reports its counts per batch and ends it
SUCCEEDED (every row read; refused rows in the error report) or FAILED (the file or
the merchant refused as a whole, or the job broke). The record lives in the
merchant's tenant: the merchant, its agency and the operator see it, nobody else.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from qrefund.platform.clock import utcnow
from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import InvalidInput
from qrefund.platform.ids import new_id
from qrefund.platform.imports import storage
from qrefund.platform.imports.errors import TransactionImportError
from qrefund.platform.imports.models import ImportFormat, ImportStatus, TransactionImport
from qrefund.platform.imports.repository import ImportRepository
from qrefund.platform.outbox.service import record_event
from qrefund.platform.pagination import Page, cursor_datetime, encode_cursor, parse_cursor
from qrefund.platform.roles import Permission
from qrefund.platform.transactions.service import require_writable
from qrefund.tenants.service import resolve_merchant

FINISHED = frozenset({ImportStatus.SUCCEEDED.value, ImportStatus.FAILED.value})
_SUFFIXES = {".csv": ImportFormat.CSV, ".jsonl": ImportFormat.JSONL,
             ".ndjson": ImportFormat.JSONL}


@dataclass(frozen=True)
class RequestImport:
    merchant_id: uuid.UUID | None
    format: ImportFormat | None
    file_name: str | None
    source: BinaryIO


def _format(cmd: RequestImport) -> ImportFormat:
    if cmd.format is not None:
        return cmd.format
    suffix = Path(cmd.file_name or "").suffix.lower()
    if suffix not in _SUFFIXES:
        raise InvalidInput("say the file's format (CSV or JSONL)", field=["format"],
                           code=TransactionImportError.UNKNOWN_FORMAT)
    return _SUFFIXES[suffix]


def _file_name(name: str | None) -> str | None:
    """The upload's own name, for people to recognise it: its last path part, printable
    characters only, at most 120."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    clean = "".join(c for c in base if c.isprintable()).strip()[:120]
    return clean or None


async def request(uow: UnitOfWork, cmd: RequestImport, *, root: Path,
                  max_bytes: int) -> TransactionImport:
    """A PENDING import of the stored file and the event that starts its job."""
    uow.scope.require(Permission.RECORD_TRANSACTIONS)
    merchant = await resolve_merchant(uow, cmd.merchant_id)
    require_writable(merchant)
    fmt = _format(cmd)
    import_id = new_id()
    record = TransactionImport(tenant_id=merchant.id, id=import_id, format=fmt.value,
                               file_name=_file_name(cmd.file_name), size_bytes=0,
                               storage_key=storage.upload_key(merchant.id, import_id, fmt),
                               requested_by=uow.scope.actor)
    target = storage.path(root, record.storage_key)
    stored = await asyncio.to_thread(storage.save, cmd.source, target, max_bytes)
    try:
        if stored.size == 0:
            raise InvalidInput("the file is empty", field=["file"],
                               code=TransactionImportError.EMPTY_FILE)
        record.size_bytes = stored.size
        record.rows_total = max(stored.lines - (fmt == ImportFormat.CSV), 0)
        ImportRepository(uow).add(record)
        await record_event(uow, tenant_id=record.tenant_id, type="transaction_import.requested",
                           aggregate_type="transaction_import", aggregate_id=record.id,
                           payload=_payload(record))
        await uow.flush()
    except BaseException:
        target.unlink(missing_ok=True)  # the record is not written: neither is the file
        raise
    return record


def _payload(record: TransactionImport) -> dict[str, Any]:
    return {"format": record.format, "status": record.status}


async def find(uow: UnitOfWork, tenant_id: uuid.UUID, import_id: uuid.UUID
               ) -> TransactionImport | None:
    """The record, or None (another tenant's, or absent)."""
    uow.scope.require(Permission.READ)
    return await ImportRepository(uow).get(tenant_id, import_id)


async def list_page(uow: UnitOfWork, merchant_ids: list[uuid.UUID] | None, *, first: int,
                    after: str | None) -> Page[TransactionImport]:
    """Newest first; merchants named outside the scope are *not found*."""
    uow.scope.require(Permission.READ)
    repo = ImportRepository(uow)
    for merchant_id in merchant_ids or ():
        repo.require_in_scope(merchant_id, what="merchant", field=["merchantIds"])
    position = parse_cursor(after, cursor_datetime, uuid.UUID) if after else None
    rows = await repo.page(merchant_ids, first=first, after=position)  # type: ignore[arg-type]
    return Page.from_rows(rows, first=first, after=after,
                          cursor=lambda r: encode_cursor([r.created_at, r.id]))


async def begin(uow: UnitOfWork, tenant_id: uuid.UUID, import_id: uuid.UUID
                ) -> TransactionImport | None:
    """RUNNING from row zero, or None when already finished (a replayed job does
    nothing). A RUNNING import starts again: its worker died, and rows are idempotent."""
    found = await ImportRepository(uow).get(tenant_id, import_id, lock=True)
    if found is None or found.status in FINISHED:
        return None
    found.status = ImportStatus.RUNNING.value
    found.rows_done = found.rows_recorded = found.rows_failed = 0
    found.started_at = utcnow()
    return found


async def progress(uow: UnitOfWork, tenant_id: uuid.UUID, import_id: uuid.UUID, *,
                   done: int, recorded: int, failed: int) -> None:
    await ImportRepository(uow).progress(tenant_id, import_id, done=done, recorded=recorded,
                                         failed=failed)


async def finish(uow: UnitOfWork, tenant_id: uuid.UUID, import_id: uuid.UUID, *,
                 status: ImportStatus, done: int, recorded: int, failed: int,
                 report_key: str | None, error: str | None = None,
                 at: datetime | None = None) -> None:
    found = await ImportRepository(uow).get(tenant_id, import_id, lock=True)
    if found is None:
        return
    found.status = status.value
    found.rows_done, found.rows_recorded, found.rows_failed = done, recorded, failed
    if status == ImportStatus.SUCCEEDED:
        found.rows_total = done
    found.report_key, found.error = report_key, error[:300] if error else None
    found.finished_at = at or utcnow()
