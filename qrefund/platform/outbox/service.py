"""Write domain events and per-tenant counters inside the caller's unit of work."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Uuid, bindparam, text

from qrefund.platform.db import UnitOfWork
from qrefund.platform.outbox.models import DomainEvent

_NEXT = text(
    "INSERT INTO tenant_sequences (tenant_id, name, value) VALUES (:tenant_id, :name, 1) "
    "ON CONFLICT (tenant_id, name) DO UPDATE SET value = tenant_sequences.value + 1 "
    "RETURNING value"
).bindparams(bindparam("tenant_id", type_=Uuid()))


async def next_sequence(uow: UnitOfWork, tenant_id: uuid.UUID, name: str) -> int:
    """A gapless per-tenant counter; the row lock is held until the unit commits."""
    uow.scope.require_tenant(tenant_id)
    result = await uow.session.execute(_NEXT, {"tenant_id": tenant_id, "name": name})
    return int(result.scalar_one())


async def record_event(
    uow: UnitOfWork,
    *,
    tenant_id: uuid.UUID,
    type: str,
    aggregate_type: str,
    aggregate_id: uuid.UUID,
    payload: dict[str, Any] | None = None,
) -> DomainEvent:
    """Append an event in the same transaction as the change it describes."""
    seq = await next_sequence(uow, tenant_id, "events")
    event = DomainEvent(
        tenant_id=tenant_id,
        seq=seq,
        type=type,
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        payload=payload or {},
        actor=uow.scope.actor,
    )
    uow.session.add(event)
    uow.note_event(event)
    return event
