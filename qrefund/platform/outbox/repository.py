"""All SQL of the outbox: domain events and the per-tenant counters.

The counters are raw SQL (an upsert that returns the new value: one statement and
one row lock, held until the unit commits), built here (or, drawn by the INSERT that
uses the value, by :func:`qrefund.platform.sql_parts.counted_insert`).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Uuid, bindparam, or_, text, tuple_
from sqlmodel import col

from qrefund.platform import counter_turns
from qrefund.platform.outbox.models import DomainEvent, TenantSequence
from qrefund.platform.repository import SCOPED_OPTION, TenantRepository

_NEXT = text(
    "INSERT INTO tenant_sequences (tenant_id, name, value) VALUES (:tenant_id, :name, 1) "
    "ON CONFLICT (tenant_id, name) DO UPDATE SET value = tenant_sequences.value + 1 "
    "RETURNING value"
).bindparams(bindparam("tenant_id", type_=Uuid())).execution_options(**{SCOPED_OPTION: True})


class DomainEventRepository(TenantRepository[DomainEvent]):
    model = DomainEvent

    async def insert_counted(self, row: dict[str, Any], counter: str) -> int:
        """Write the event ``row`` (every column; its ``seq`` is ignored) at once, as
        :meth:`insert_rows` does, with the next value of its tenant's ``counter`` as its
        ``seq``, in one statement (PostgreSQL only); returns that ``seq``."""
        counters: Any = TenantSequence.__table__  # type: ignore[attr-defined]
        return int(await self.insert_with_counter(row, "seq", counters, counter))

    async def after(self, tenant_id: uuid.UUID, seq: int, aggregate_type: str, *,
                    limit: int) -> list[DomainEvent]:
        """A tenant's events of one aggregate type after ``seq``, in sequence order."""
        stmt = self.select(col(DomainEvent.tenant_id) == tenant_id, col(DomainEvent.seq) > seq,
                           col(DomainEvent.aggregate_type) == aggregate_type)
        return await self.all(stmt.order_by(col(DomainEvent.seq)).limit(limit))


    async def matching_after(self, tenant_id: uuid.UUID, seq: int, *,
                             aggregate_types: Collection[str], types: Collection[str],
                             limit: int) -> list[DomainEvent]:
        """A tenant's events after ``seq`` of any of ``aggregate_types`` or exactly one
        of ``types``, in sequence order (the ``events`` feed's page of one tenant)."""
        wanted = or_(col(DomainEvent.aggregate_type).in_(sorted(aggregate_types)),
                     col(DomainEvent.type).in_(sorted(types)))
        stmt = self.select(col(DomainEvent.tenant_id) == tenant_id, col(DomainEvent.seq) > seq,
                           wanted)
        return await self.all(stmt.order_by(col(DomainEvent.seq)).limit(limit))

    async def by_seq(self, keys: Sequence[tuple[uuid.UUID, int]]) -> list[DomainEvent]:
        """The events at (tenant id, sequence number) ``keys`` that are in scope."""
        if not keys:
            return []
        stmt = self.select(tuple_(col(DomainEvent.tenant_id), col(DomainEvent.seq))
                           .in_(sorted(set(keys))))
        return await self.all(stmt)

    async def claim_unrelayed(self, keys: Sequence[tuple[uuid.UUID, uuid.UUID]] | None,
                              limit: int) -> list[DomainEvent]:
        """Up to ``limit`` committed events not relayed yet (of ``keys`` when given), oldest
        first, row-locked; other relays skip them (PostgreSQL)."""
        stmt = self.select(col(DomainEvent.relayed_at).is_(None))
        if keys is not None:
            stmt = stmt.where(self.key_in(keys))
        stmt = stmt.order_by(col(DomainEvent.occurred_at), col(DomainEvent.seq)).limit(limit)
        if not self.uow.is_sqlite:
            stmt = stmt.with_for_update(skip_locked=True)
        return await self.all(stmt)

    async def mark_relayed(self, keys: Sequence[tuple[uuid.UUID, uuid.UUID]],
                           when: datetime) -> None:
        await self.execute(self.update(self.key_in(keys)).values(relayed_at=when))


class TenantSequenceRepository(TenantRepository[TenantSequence]):
    model = TenantSequence

    def _check(self, tenant_ids: Sequence[uuid.UUID]) -> None:
        """Counters of tenants in the unit's scope only (the statements here are raw
        SQL, each marked as scoped where it is built)."""
        for tenant_id in tenant_ids:
            if not self.scope.allows(tenant_id):
                raise LookupError(f"tenant {tenant_id} is outside the unit's scope")

    async def next(self, tenant_id: uuid.UUID, name: str) -> int:
        """The counter's next value; its row stays locked until the unit ends."""
        self._check([tenant_id])
        async with counter_turns.turn(self.uow, tenant_id, name):
            result = await self.uow._execute_kept(_NEXT, {"tenant_id": tenant_id, "name": name})
        return int(result.scalar_one())

    async def reserve(self, name: str, counts: Sequence[tuple[uuid.UUID, int]]
                      ) -> dict[uuid.UUID, int]:
        """Add ``n`` to each tenant's counter in one statement (tenants in id order);
        returns each counter's new value."""
        rows = ", ".join(f"(:t{i}, :name, :n{i})" for i in range(len(counts)))
        stmt = text(
            f"INSERT INTO tenant_sequences (tenant_id, name, value) VALUES {rows} "
            "ON CONFLICT (tenant_id, name) DO UPDATE SET value = tenant_sequences.value + "
            "excluded.value RETURNING tenant_id, value"
        ).bindparams(*(bindparam(f"t{i}", type_=Uuid()) for i in range(len(counts))),
                     bindparam("name")).execution_options(**{SCOPED_OPTION: True})
        params: dict[str, object] = {"name": name}
        for i, (tenant_id, count) in enumerate(counts):
            params[f"t{i}"], params[f"n{i}"] = tenant_id, count
        self._check([t for t, _ in counts])
        result = await self.uow._execute(stmt, params)
        return {uuid.UUID(str(row[0])): int(row[1]) for row in result.all()}

    async def give_back(self, unused: Sequence[tuple[uuid.UUID, str, int]]) -> None:
        """Subtract unused reservations (the tail of each block) from the counters."""
        rows = ", ".join(f"(:t{i}, :name{i}, :n{i})" for i in range(len(unused)))
        stmt = text(
            f"WITH v(t, name, n) AS (VALUES {rows}) UPDATE tenant_sequences "
            "SET value = tenant_sequences.value - v.n FROM v "
            "WHERE tenant_sequences.tenant_id = v.t AND tenant_sequences.name = v.name"
        ).bindparams(*(bindparam(f"t{i}", type_=Uuid()) for i in range(len(unused)))
                     ).execution_options(**{SCOPED_OPTION: True})
        params: dict[str, object] = {}
        for i, (tenant_id, name, count) in enumerate(unused):
            params[f"t{i}"], params[f"name{i}"], params[f"n{i}"] = tenant_id, name, count
        self._check([t for t, _, _ in unused])
        await self.uow._execute(stmt, params)

    async def heads(self, name: str, tenant_ids: Sequence[uuid.UUID]) -> Mapping[uuid.UUID, int]:
        """Each tenant's counter value (0 when it has none yet)."""
        stmt = self.select(col(TenantSequence.name) == name,
                           col(TenantSequence.tenant_id).in_(list(tenant_ids)))
        found = {row.tenant_id: row.value for row in await self.all(stmt)}
        return {t: found.get(t, 0) for t in tenant_ids}
