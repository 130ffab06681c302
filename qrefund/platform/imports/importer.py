"""Recording the rows of a transaction file: the same rules as ``recordTransaction``
(shared by ``transactions.record`` and ``transactions.batch.record_many``), so a row is
idempotent per merchant order number (a re-import changes nothing; a row that repeats
an order number with another amount is ``ORDER_NO_CONFLICT``).

Rows go in batches of :data:`BATCH_SIZE`, one unit of work each, through the
transactions domain's set-based path (a few statements per batch): a refused row
writes nothing and lands in the error report (row, field, code, message: never the
row's values, which may be personal), the others are recorded. The file is read line
by line (:mod:`qrefund.platform.imports.reader`).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, BinaryIO, Protocol

from qrefund.platform.db import Database
from qrefund.platform.errors import DomainError
from qrefund.platform.imports.reader import Parsed, RowError, read
from qrefund.platform.scope import TenantScope
from qrefund.platform.transactions import service as transactions
from qrefund.platform.transactions.batch import record_many
from qrefund.platform.transactions.models import PaymentChannel, TransactionStatus

BATCH_SIZE = 500
REPORT_COLUMNS = ("row", "field", "code", "message")


@dataclass
class ImportResult:
    rows: int = 0  # data lines read (not the header, not blank lines)
    recorded: int = 0  # new or already there with the same values (idempotent)
    failed: int = 0


def _command(merchant_id: uuid.UUID, row: Parsed) -> transactions.RecordTransaction | RowError:
    f = row.fields
    missing = [c for c in ("merchant_order_no", "channel", "provider_reference", "amount",
                           "currency", "status", "paid_at") if not f.get(c)]
    if missing:
        return RowError(row.row, missing[0], "REQUIRED", "a required value is missing")
    try:
        channel = PaymentChannel(f["channel"].strip().upper())
    except ValueError:
        return RowError(row.row, "channel", "INVALID_INPUT", "not a payment channel")
    try:
        status = TransactionStatus(f["status"].strip().upper())
    except ValueError:
        return RowError(row.row, "status", "INVALID_INPUT", "not a transaction status")
    try:
        amount = Decimal(f["amount"].strip())
    except InvalidOperation:
        return RowError(row.row, "amount", "INVALID_AMOUNT", "not a decimal amount")
    try:
        paid_at = datetime.fromisoformat(f["paid_at"].strip())
    except ValueError:
        return RowError(row.row, "paid_at", "INVALID_DATETIME", "not an ISO 8601 datetime")
    return transactions.RecordTransaction(
        merchant_id=merchant_id, merchant_order_no=f["merchant_order_no"], channel=channel,
        provider_reference=f["provider_reference"], amount=amount, currency=f["currency"],
        status=status, paid_at=paid_at, terminal_id=f.get("terminal_id"),
        store_id=f.get("store_id"), payer_account=f.get("payer_account"))


def _batches(items: Iterator[Parsed | RowError], size: int
             ) -> Iterator[list[Parsed | RowError]]:
    batch: list[Parsed | RowError] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


async def _record_batch(db: Database, scope: TenantScope, merchant_id: uuid.UUID,
                        batch: list[Parsed | RowError]) -> list[RowError]:
    """One unit of work for the batch, recorded by the set-based path
    (:func:`~qrefund.platform.transactions.batch.record_many`)."""
    errors: list[RowError] = []
    rows: list[int] = []
    cmds: list[transactions.RecordTransaction] = []
    for item in batch:
        cmd = item if isinstance(item, RowError) else _command(merchant_id, item)
        if isinstance(cmd, RowError):
            errors.append(cmd)
        else:
            rows.append(item.row)
            cmds.append(cmd)
    if cmds:
        async with db.unit_of_work(scope) as uow:
            outcomes = await record_many(uow, merchant_id, cmds)
        for row, outcome in zip(rows, outcomes, strict=True):
            if isinstance(outcome, DomainError):
                field = ".".join(outcome.field or ["row"])
                errors.append(RowError(row, field, str(outcome.code), str(outcome)[:200]))
    errors.sort(key=lambda e: e.row)
    return errors


class ReportSink(Protocol):
    """Where row errors go (:class:`qrefund.platform.exports.files.RowWriter` for a
    file: CSV with a header row :data:`REPORT_COLUMNS`)."""

    def write(self, rows: Iterable[dict[str, Any]]) -> None: ...


async def import_file(db: Database, scope: TenantScope, merchant_id: uuid.UUID,
                      source: BinaryIO, fmt: str, report: ReportSink, *,
                      batch_size: int = BATCH_SIZE,
                      progress: Callable[[ImportResult], Awaitable[None]] | None = None
                      ) -> ImportResult:
    """Every row of ``source`` recorded for ``merchant_id`` (``scope``: that merchant's,
    with RECORD_TRANSACTIONS), row errors written to ``report``; ``progress`` is awaited
    after each batch with the counts so far. Raises
    :class:`~qrefund.platform.imports.reader.FileRefused` for a CSV header with wrong
    columns (nothing recorded), and a :class:`DomainError` that refuses the whole
    merchant (suspended; the batches before it stay recorded)."""
    result = ImportResult()
    for batch in _batches(read(source, fmt), batch_size):
        errors = await _record_batch(db, scope, merchant_id, batch)
        report.write({"row": e.row, "field": e.field, "code": e.code, "message": e.message}
                     for e in errors)
        result.rows += len(batch)
        result.failed += len(errors)
        result.recorded += len(batch) - len(errors)
        if progress is not None:
            await progress(result)
    return result
