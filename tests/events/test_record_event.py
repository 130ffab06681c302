"""An event draws its per-tenant sequence number as it is written: one statement on
PostgreSQL (the counter's upsert inside the INSERT), two on SQLite; numbers stay gapless
under concurrent writers and follow a unit's reserved block."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import select

from qrefund.jobs import runtime
from qrefund.platform.db import Database, UnitOfWork
from qrefund.platform.outbox.models import DomainEvent, TenantSequence
from qrefund.platform.outbox.service import (
    record_event,
    release_unused_sequences,
    reserve_sequences,
)
from tests.foundation.test_sql_count import counting
from tests.support.raw import unchecked
from tests.support.world import World

# A catalogued type and payload (every test's events are checked against the catalogue);
# each test tells its own events apart by their aggregate type.
_TYPE, _PAYLOAD = "transaction_import.requested", {"format": "CSV"}


async def _event(uow: UnitOfWork, tenant: uuid.UUID, tag: str) -> DomainEvent:
    return await record_event(uow, tenant_id=tenant, type=_TYPE, aggregate_type=tag,
                              aggregate_id=uuid.uuid4(), payload=_PAYLOAD)


async def _record(db: Database, tenant: uuid.UUID, tag: str, n: int) -> list[int]:
    async with db.unit_of_work(runtime.job_scope(tenant)) as uow:
        return [(await _event(uow, tenant, tag)).seq for _ in range(n)]


async def _stored(db: Database, tenant: uuid.UUID, tag: str) -> tuple[list[int], int]:
    """The stored sequence numbers of the ``tag`` events, and the tenant's counter."""
    async with db.unit_of_work(runtime.system_scope("test"), readonly=True) as uow:
        raw = unchecked(uow)
        seqs = (await raw.execute(select(DomainEvent.seq).where(
            DomainEvent.tenant_id == tenant, DomainEvent.aggregate_type == tag))).scalars().all()
        counter = (await raw.execute(select(TenantSequence.value).where(
            TenantSequence.tenant_id == tenant, TenantSequence.name == "events"))).scalar()
    return sorted(seqs), int(counter or 0)


async def test_concurrent_writers_number_their_events_without_gaps(
    db: Database, world: World
) -> None:
    """Twelve units at once, two events each, on one merchant: they queue on its
    counter's row lock, and the numbers are the next 24, each once, the counter at the
    last; what each unit got is what was stored."""
    _, before = await _stored(db, world.merchant_a, "test.concurrent")
    drawn = await asyncio.gather(*(_record(db, world.merchant_a, "test.concurrent", 2)
                                   for _ in range(12)))
    seqs, counter = await _stored(db, world.merchant_a, "test.concurrent")
    assert seqs == list(range(before + 1, before + 25)) and counter == before + 24
    assert sorted(s for unit in drawn for s in unit) == seqs
    assert all(unit[1] == unit[0] + 1 for unit in drawn)  # a unit's own are consecutive


async def test_an_event_and_its_number_are_one_statement(db: Database, world: World) -> None:
    async with db.unit_of_work(runtime.job_scope(world.merchant_b)) as uow:
        await _event(uow, world.merchant_b, "test.warm")
        with counting(db) as statements:
            event = await _event(uow, world.merchant_b, "test.counted")
    expected = 2 if db.is_sqlite else 1
    assert len(statements) == expected, statements
    seqs, counter = await _stored(db, world.merchant_b, "test.counted")
    assert seqs == [event.seq] and counter == event.seq


async def test_a_reserved_block_is_used_first_then_the_counter(
    db: Database, world: World
) -> None:
    """A bulk writer's block (reserve_sequences) hands out its numbers in order; an event
    past the block draws the counter's next, right after it."""
    _, before = await _stored(db, world.merchant_a, "test.reserved")
    async with db.unit_of_work(runtime.job_scope(world.merchant_a)) as uow:
        await reserve_sequences(uow, "events", {world.merchant_a: 2})
        got = [(await _event(uow, world.merchant_a, "test.reserved")).seq for _ in range(3)]
        await release_unused_sequences(uow)
    assert got == [before + 1, before + 2, before + 3]
    seqs, counter = await _stored(db, world.merchant_a, "test.reserved")
    assert seqs == got and counter == before + 3
