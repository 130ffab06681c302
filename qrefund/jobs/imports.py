"""Imports run by an operator: ``qrefund import-transactions FILE --merchant ID``.

The rows are recorded in the merchant's job scope (as ``import``), through the same
service as ``recordTransaction``; the error report is a CSV file beside the input
unless named.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from qrefund.jobs import runtime
from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from qrefund.platform.imports.importer import ImportResult, import_file


def operator_import(settings: Settings, merchant_id: uuid.UUID, source: Path, fmt: str,
                    report: Path) -> ImportResult:
    """Raises :class:`~qrefund.platform.imports.reader.FileRefused` for a file whose
    CSV header is wrong (nothing recorded; the report holds the one error)."""
    db = Database(settings, pooled=False)

    async def go() -> ImportResult:
        try:
            with source.open("rb") as data, report.open("w", encoding="utf-8-sig",
                                                        newline="") as out:
                return await import_file(db, runtime.job_scope(merchant_id, "import"),
                                         merchant_id, data, fmt, out)
        finally:
            await db.dispose()

    return asyncio.run(go())
