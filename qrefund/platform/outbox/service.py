"""Write domain events and per-tenant counters inside the caller's unit of work."""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from qrefund.platform.clock import utcnow
from qrefund.platform.db import UnitOfWork
from qrefund.platform.ids import new_id
from qrefund.platform.outbox.models import DomainEvent
from qrefund.platform.outbox.repository import DomainEventRepository, TenantSequenceRepository

_RESERVED = "qrefund.reserved_sequences"


async def event_by_id(uow: UnitOfWork, tenant_id: uuid.UUID, event_id: uuid.UUID
                      ) -> DomainEvent | None:
    """One event in scope (None: absent or another tenant's)."""
    return await DomainEventRepository(uow).get(tenant_id, event_id)


async def next_sequence(uow: UnitOfWork, tenant_id: uuid.UUID, name: str) -> int:
    """A gapless per-tenant counter; the row lock is held until the unit commits."""
    TenantSequenceRepository(uow).require_in_scope(tenant_id, what="tenant", field=None)
    reserved = uow.info.get(_RESERVED, {}).get((tenant_id, name))
    if reserved:
        return int(reserved.popleft())
    return await TenantSequenceRepository(uow).next(tenant_id, name)


def draws_on_insert(uow: UnitOfWork, tenant_id: uuid.UUID, name: str) -> bool:
    """May the INSERT that uses the next value of a tenant's counter draw it itself
    (:func:`qrefund.platform.sql_parts.counted_insert`)? On PostgreSQL, unless the unit
    reserved numbers of that counter (:func:`reserve_sequences`): else
    :func:`next_sequence`."""
    return not uow.is_sqlite and not uow.info.get(_RESERVED, {}).get((tenant_id, name))


async def reserve_sequences(uow: UnitOfWork, name: str, counts: Mapping[uuid.UUID, int]) -> None:
    """For bulk writers (the deadline sweep): take ``counts[tenant]`` numbers of each
    tenant's counter in one statement; :func:`next_sequence` hands them out in order.

    Tenants are locked in id order, so two bulk writers cannot deadlock on them.
    Call :func:`release_unused_sequences` before the unit commits: the numbers not
    handed out are the tail of each block and go back, so the counter stays gapless
    (the row locks, held until commit, keep anyone else from drawing in between).
    """
    wanted = sorted((t, n) for t, n in counts.items() if n > 0)
    if not wanted:
        return
    lasts = await TenantSequenceRepository(uow).reserve(name, wanted)
    pool = uow.info.setdefault(_RESERVED, {})
    for key, last in lasts.items():
        pool[(key, name)] = deque(range(last - counts[key] + 1, last + 1))


async def release_unused_sequences(uow: UnitOfWork) -> None:
    """Give back the numbers :func:`reserve_sequences` took and nobody used."""
    pool = uow.info.pop(_RESERVED, {})
    unused = sorted((t, name, len(left)) for (t, name), left in pool.items() if left)
    if unused:
        await TenantSequenceRepository(uow).give_back(unused)


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An event as it was written (the row's columns), for the caller and the
    after-commit listeners: built from plain values, since a ``DomainEvent`` object
    (~0.1 ms to construct) would only be turned back into them."""

    tenant_id: uuid.UUID
    id: uuid.UUID
    seq: int
    type: str
    aggregate_type: str
    aggregate_id: uuid.UUID
    payload: dict[str, Any]
    actor: str
    occurred_at: datetime
    relayed_at: datetime | None = None


async def record_event(
    uow: UnitOfWork,
    *,
    tenant_id: uuid.UUID,
    type: str,
    aggregate_type: str,
    aggregate_id: uuid.UUID,
    payload: dict[str, Any] | None = None,
) -> RecordedEvent:
    """Append an event in the same transaction as the change it describes: on
    PostgreSQL one statement draws its sequence number and writes it, unless the unit
    reserved a block of numbers (:func:`reserve_sequences`)."""
    row: dict[str, Any] = {
        "tenant_id": tenant_id, "id": new_id(), "seq": 0, "type": type,
        "aggregate_type": aggregate_type, "aggregate_id": aggregate_id,
        "payload": payload or {}, "actor": uow.scope.actor, "occurred_at": utcnow(),
        "relayed_at": None}  # seq: drawn as it is written
    repo = DomainEventRepository(uow)
    if uow.is_sqlite or uow.info.get(_RESERVED, {}).get((tenant_id, "events")):
        row["seq"] = await next_sequence(uow, tenant_id, "events")
        await repo.insert_rows([row])
    else:  # insert_counted refuses a tenant out of scope as next_sequence does
        row["seq"] = await repo.insert_counted(row, "events")
    event = RecordedEvent(**row)
    uow.note_event(event)
    return event


@dataclass(frozen=True)
class NewEvent:
    type: str
    aggregate_type: str
    aggregate_id: uuid.UUID
    payload: dict[str, Any]


async def record_events(uow: UnitOfWork, tenant_id: uuid.UUID, events: Sequence[NewEvent]
                        ) -> None:
    """The batched writer: ``events`` of one tenant appended in order, in two statements
    whatever their number (a block of sequence numbers, one bulk insert), in the same
    transaction as the changes they describe. Same rows as :func:`record_event`."""
    if not events:
        return
    repo = TenantSequenceRepository(uow)
    repo.require_in_scope(tenant_id, what="tenant", field=None)
    last = (await repo.reserve("events", [(tenant_id, len(events))]))[tenant_id]
    now, actor = utcnow(), uow.scope.actor
    rows: list[dict[str, Any]] = [
        {"tenant_id": tenant_id, "id": new_id(), "seq": last - len(events) + 1 + i,
         "type": e.type, "aggregate_type": e.aggregate_type, "aggregate_id": e.aggregate_id,
         "payload": e.payload, "actor": actor, "occurred_at": now, "relayed_at": None}
        for i, e in enumerate(events)]
    await DomainEventRepository(uow).insert_rows(rows)
    for row in rows:
        uow.note_event(RecordedEvent(**row))


async def claim_unrelayed(uow: UnitOfWork, keys: Sequence[tuple[uuid.UUID, uuid.UUID]] | None,
                          limit: int) -> list[DomainEvent]:
    """Committed events the relay has not handed on yet, locked for this relay."""
    return await DomainEventRepository(uow).claim_unrelayed(keys, limit)


async def mark_relayed(uow: UnitOfWork, events: Sequence[DomainEvent]) -> None:
    await DomainEventRepository(uow).mark_relayed([(e.tenant_id, e.id) for e in events],
                                                  utcnow())
