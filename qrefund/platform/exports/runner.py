"""Writing one export's file: the loop a job (and the operator's CLI) runs.

Each batch is its own short read-only unit in the scope of the one merchant it reads
(the scopes come from the caller, the job runtime: platform code issues none), so no
transaction or row set is held open for the length of a million-row file.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from qrefund.platform.db import Database
from qrefund.platform.exports import rows
from qrefund.platform.exports.files import RowWriter
from qrefund.platform.scope import TenantScope

BATCH_SIZE = 1000

ScopeFor = Callable[[uuid.UUID], TenantScope]
Progress = Callable[[int], Awaitable[None]]


async def count_rows(db: Database, scope_for: ScopeFor, spec: rows.Spec) -> int:
    total = 0
    for merchant_id in spec.merchant_ids:
        async with db.unit_of_work(scope_for(merchant_id), readonly=True) as uow:
            total += await rows.count(uow, spec, merchant_id)
    return total


async def write_file(db: Database, scope_for: ScopeFor, spec: rows.Spec, path: Path, *,
                     progress: Progress | None = None, batch_size: int = BATCH_SIZE
                     ) -> tuple[int, int]:
    """Every row of the export into ``path``, merchant by merchant, newest first;
    ``progress`` is awaited after each batch with the rows written so far. Returns
    (rows, bytes)."""
    with RowWriter(path, spec.format, rows.columns(spec.kind)) as writer:
        for merchant_id in spec.merchant_ids:
            after: str | None = None
            while True:
                async with db.unit_of_work(scope_for(merchant_id), readonly=True) as uow:
                    found, after = await rows.batch(uow, spec, merchant_id, after=after,
                                                    size=batch_size)
                writer.write(found)
                if progress is not None and found:
                    await progress(writer.rows)
                if after is None:
                    break
        size = writer.commit()
    return writer.rows, size
