"""Turns at a tenant's counter, first come first served, within one process.

A gapless per-tenant counter (``tenant_sequences``: case numbers, ticket numbers, the
event sequence) is a row whose lock every unit drawing from it holds until it ends, so
one merchant's writes queue on it. PostgreSQL's queue for a row lock is not first come
first served: each draw writes a new version of the row; a unit that arrives while the
holder is open waits on the newest version, while the units queued behind the version
before are woken, find the row moved on and queue again, behind the newcomer. So some
writes are overtaken again and again. Measured in-process (``bench.profile_page --write
submit --concurrency 16``, one merchant, 5 runs a way): p99/p50 4.1-5.6 without the
turns below, 1.5-1.9 with them, the CPU per submit within the runs' spread.

So a unit waits for its turn in this process's own queue (an :class:`asyncio.Lock` per
tenant and counter, which wakes its waiters in order) before it asks PostgreSQL for the
row, and holds the turn while its statement waits for the row lock; once it has the row
the next unit's statement goes to PostgreSQL and waits there. So PostgreSQL sees at most
one waiter per API process, a process's own units keep their order, and the hand-over at
each commit is still PostgreSQL's own (the next statement is already waiting: no round
trip and no turn of the event loop between two draws).

A unit that draws again from a counter whose row it holds does not queue. A turn is
waited for at most :data:`PATIENCE`: PostgreSQL's deadlock detector cannot see a wait
here, so should units ever lock in an order that deadlocks (the lock order is the case,
its payment, then counters), each goes on to the row after that and PostgreSQL finds the
cycle as before. Bulk writers that reserve blocks of numbers for many tenants
(:func:`qrefund.platform.outbox.service.reserve_sequences`) take no turns: they lock the
rows in tenant order and wait on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qrefund.platform.db import UnitOfWork

log = logging.getLogger(__name__)

_DRAWN = "qrefund.counter_turns"  # the unit's info: the counters whose rows it holds
PATIENCE = 1.0  # seconds a unit waits for its turn before it queues on the row alone
Key = tuple[Any, uuid.UUID, str]


@dataclass
class _Queue:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0  # holding or waiting; the queue goes when the last one leaves


# By event loop (a lock belongs to the loop it first waited on), tenant and counter.
_queues: dict[Key, _Queue] = {}


@asynccontextmanager
async def turn(uow: UnitOfWork, tenant_id: uuid.UUID, name: str) -> AsyncIterator[None]:
    """Around the statement of ``uow`` that draws from ``tenant_id``'s counter ``name``:
    wait for the turn, hold it while the statement runs (the unit's scratch space
    remembers the rows it holds). On SQLite, which has no row locks, nothing."""
    key = (asyncio.get_running_loop(), tenant_id, name)
    drawn: set[Key] = uow.info.setdefault(_DRAWN, set())
    if uow.is_sqlite or key in drawn:  # its writers queue as a whole / the unit holds the row
        yield
        return
    queue = _queues.get(key)
    if queue is None:
        queue = _queues[key] = _Queue()
    queue.users += 1
    holds = False
    try:
        try:
            async with asyncio.timeout(PATIENCE):
                await queue.lock.acquire()
            holds = True
        except TimeoutError:  # on to the row lock, where PostgreSQL sees the wait
            log.debug("no turn at a tenant counter within %.1f s; waiting on its row",
                      PATIENCE)
        yield
        drawn.add(key)
    finally:
        if holds:
            queue.lock.release()
        queue.users -= 1
        if queue.users == 0:
            del _queues[key]


def waiting(tenant_id: uuid.UUID, name: str) -> int:
    """Units of this loop holding or waiting for a turn at the counter (for the tests)."""
    queue = _queues.get((asyncio.get_running_loop(), tenant_id, name))
    return queue.users if queue is not None else 0
