"""Write domain events and per-tenant counters inside the caller's unit of work."""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Uuid, bindparam, text

from qrefund.platform.db import UnitOfWork
from qrefund.platform.outbox.models import DomainEvent
from qrefund.platform.outbox.repository import DomainEventRepository

_NEXT = text(
    "INSERT INTO tenant_sequences (tenant_id, name, value) VALUES (:tenant_id, :name, 1) "
    "ON CONFLICT (tenant_id, name) DO UPDATE SET value = tenant_sequences.value + 1 "
    "RETURNING value"
).bindparams(bindparam("tenant_id", type_=Uuid()))


_RESERVED = "qrefund.reserved_sequences"


async def next_sequence(uow: UnitOfWork, tenant_id: uuid.UUID, name: str) -> int:
    """A gapless per-tenant counter; the row lock is held until the unit commits."""
    uow.scope.require_tenant(tenant_id)
    reserved = uow.session.info.get(_RESERVED, {}).get((tenant_id, name))
    if reserved:
        return int(reserved.popleft())
    result = await uow.session.execute(_NEXT, {"tenant_id": tenant_id, "name": name})
    return int(result.scalar_one())


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
    for tenant_id, _ in wanted:
        uow.scope.require_tenant(tenant_id)
    rows = ", ".join(f"(:t{i}, :name, :n{i})" for i in range(len(wanted)))
    stmt = text(
        f"INSERT INTO tenant_sequences (tenant_id, name, value) VALUES {rows} "
        "ON CONFLICT (tenant_id, name) DO UPDATE SET value = tenant_sequences.value + "
        "excluded.value RETURNING tenant_id, value"
    ).bindparams(*(bindparam(f"t{i}", type_=Uuid()) for i in range(len(wanted))),
                 bindparam("name"))
    params: dict[str, object] = {"name": name}
    for i, (tenant_id, count) in enumerate(wanted):
        params[f"t{i}"], params[f"n{i}"] = tenant_id, count
    result = await uow.session.execute(stmt, params)
    pool = uow.session.info.setdefault(_RESERVED, {})
    for row in result.all():
        key, last = uuid.UUID(str(row[0])), int(row[1])
        pool[(key, name)] = deque(range(last - counts[key] + 1, last + 1))


async def release_unused_sequences(uow: UnitOfWork) -> None:
    """Give back the numbers :func:`reserve_sequences` took and nobody used."""
    pool = uow.session.info.pop(_RESERVED, {})
    unused = sorted((t, name, len(left)) for (t, name), left in pool.items() if left)
    if not unused:
        return
    rows = ", ".join(f"(:t{i}, :name{i}, :n{i})" for i in range(len(unused)))
    stmt = text(
        f"WITH v(t, name, n) AS (VALUES {rows}) UPDATE tenant_sequences "
        "SET value = tenant_sequences.value - v.n FROM v "
        "WHERE tenant_sequences.tenant_id = v.t AND tenant_sequences.name = v.name"
    ).bindparams(*(bindparam(f"t{i}", type_=Uuid()) for i in range(len(unused))))
    params: dict[str, object] = {}
    for i, (tenant_id, name, count) in enumerate(unused):
        params[f"t{i}"], params[f"name{i}"], params[f"n{i}"] = tenant_id, name, count
    await uow.session.execute(stmt, params)


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


async def event_by_id(uow: UnitOfWork, tenant_id: uuid.UUID, event_id: uuid.UUID
                      ) -> DomainEvent | None:
    """One event by key; None when absent or outside the scope."""
    return await DomainEventRepository(uow).get(tenant_id, event_id)
