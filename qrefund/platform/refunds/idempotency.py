"""Idempotency keys for money-moving mutations (``idempotency_records``).

The first call with a key stores a hash of its input and the id of its result
*before* doing the work, in the same transaction: if the work fails, the record
rolls back with it and the key is free again. A concurrent call with the same key
blocks on the uncommitted row (PostgreSQL) or queues behind the writer (SQLite),
then sees the committed record and replays it.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError

from qrefund.platform import validation
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
    found = await records.find(tenant_id, operation, key)
    if found is not None:
        return _replay(found, digest)
    record = IdempotencyRecord(tenant_id=tenant_id, operation=operation, key=key,
                               request_hash=digest, result_id=result_id)
    try:
        async with uow.savepoint():
            records.add(record)
            await uow.flush()
    except IntegrityError:
        # A concurrent call with this key committed first.
        found = await records.find(tenant_id, operation, key)
        if found is None:
            raise
        return _replay(found, digest)
    return None
