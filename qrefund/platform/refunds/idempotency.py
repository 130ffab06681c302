"""Idempotency keys for money-moving mutations (``idempotency_records``).

The first call with a key stores a hash of its input and the id of its result
*before* doing the work, in the same transaction (``INSERT ... ON CONFLICT DO
NOTHING``: one statement when the key is new): if the work fails, the record rolls
back with it and the key is free again. A concurrent call with the same key blocks on
the uncommitted row (PostgreSQL) or queues behind the writer (SQLite), then finds the
committed record and replays it.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from qrefund.platform import validation
from qrefund.platform.clock import utcnow
from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import IdempotencyKeyReused
from qrefund.platform.outbox.models import IdempotencyRecord
from qrefund.platform.refunds.repository import IdempotencyRepository


def request_hash(request: dict[str, Any]) -> str:
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(record: IdempotencyRecord, digest: str) -> uuid.UUID:
    if record.request_hash != digest:
        raise IdempotencyKeyReused(
            "this idempotencyKey was used with different input", field=["idempotencyKey"]
        )
    return record.result_id


async def claim(
    uow: UnitOfWork, *, tenant_id: uuid.UUID, operation: str, key: str,
    request: dict[str, Any], result_id: uuid.UUID,
) -> uuid.UUID | None:
    """None when this call owns ``key`` (do the work and produce ``result_id``);
    otherwise the first call's result id, to be returned as it is (a replay)."""
    key = validation.code(key, "idempotencyKey", max_len=128) or ""
    digest = request_hash(request)
    records = IdempotencyRepository(uow)
    # One statement for the usual first call: the row goes in unless the key is taken.
    # A concurrent call's uncommitted row makes this wait for it, as an insert would.
    claimed = await records.insert_rows([{
        "tenant_id": tenant_id, "operation": operation, "key": key,
        "request_hash": digest, "result_id": result_id, "created_at": utcnow(),
    }], skip_conflicts_on=("tenant_id", "operation", "key"), returning="key")
    if claimed:
        return None
    found = await records.find(tenant_id, operation, key)
    if found is None:  # taken and gone again between the two statements (retention)
        raise RuntimeError("idempotency record vanished after a conflict")
    return _replay(found, digest)
