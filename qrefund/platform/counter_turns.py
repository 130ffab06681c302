"""Turns at a tenant's counter, first come first served, within one process.

A gapless per-tenant counter (``tenant_sequences``: case numbers, ticket numbers, the
event sequence) is a row whose lock every unit drawing from it holds until it ends, so
one merchant's writes queue on it. PostgreSQL's queue for a row lock is not first come
first served: each draw writes a new version of the row; a unit that arrives while the
holder is open waits on the newest version, while the units queued behind the version
before are woken, find the row moved on and queue again, behind the newcomer. So some
writes are overtaken again and again. Measured in-process (``bench.profile_page --write
submit --concurrency 16``, one merchant): p50 93-117 ms, p99 525-579 ms (p99/p50
5.0-5.6); with the turns below p50 112-127 ms, p99 211-213 ms (1.7-1.9), and the CPU
per submit no higher.

So a unit takes its turn in this process's own queue (an :class:`asyncio.Lock` per
tenant and counter, which wakes its waiters in order) before it asks PostgreSQL for the
row, and keeps it until it ends, as it keeps the row lock: PostgreSQL then sees at most
one waiter per API process, and a process's own units keep their order.

No new deadlock: a turn is taken just before the row lock of the same counter and given
back after the unit has ended, so waiting for a turn is waiting for the unit ahead to
get, then give back, that row lock, which the unit would have waited for anyway; the
lock order (the case, its payment, then counters) is the same for both. Should a unit
ever break that order, PostgreSQL would find the deadlock, but it cannot see a wait
here: so a unit waits at most :data:`PATIENCE` for its turn, then goes on to the row
lock without one, where PostgreSQL's deadlock detector sees every wait again. A unit
that draws twice from a counter takes its turn once. Bulk writers that reserve blocks of
numbers for many tenants (:func:`qrefund.platform.outbox.service.reserve_sequences`)
take no turns: they lock the rows in tenant order and wait on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

_HELD = "qrefund.counter_turns"  # the unit's info: its counters, True where it holds the turn
PATIENCE = 1.0  # seconds a unit waits for its turn before it queues on the row alone


@dataclass
class _Queue:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0  # holding or waiting; the queue goes when the last one leaves


# By event loop (a lock belongs to the loop it first waited on), tenant and counter.
_queues: dict[tuple[Any, uuid.UUID, str], _Queue] = {}


async def take(info: dict[Any, Any], tenant_id: uuid.UUID, name: str) -> None:
    """Wait for this unit's turn at ``tenant_id``'s counter ``name`` (``info``: the unit's
    scratch space, which records the turn until :func:`give_back`)."""
    key = (asyncio.get_running_loop(), tenant_id, name)
    held: dict[tuple[Any, uuid.UUID, str], bool] = info.setdefault(_HELD, {})
    if key in held:
        return
    queue = _queues.get(key)
    if queue is None:
        queue = _queues[key] = _Queue()
    queue.users += 1
    try:
        async with asyncio.timeout(PATIENCE):
            await queue.lock.acquire()
    except TimeoutError:  # on to the row lock, where PostgreSQL sees the wait
        _leave(key, queue)
        held[key] = False
        log.debug("no turn at a tenant counter within %.1f s; waiting on its row", PATIENCE)
        return
    except BaseException:  # cancelled while waiting: it never held the turn
        _leave(key, queue)
        raise
    held[key] = True


def give_back(info: dict[Any, Any]) -> None:
    """Give back every turn the unit holds (once it has committed or rolled back)."""
    for key, turn in info.pop(_HELD, {}).items():
        if not turn:
            continue
        queue = _queues[key]
        queue.lock.release()
        _leave(key, queue)


def waiting(tenant_id: uuid.UUID, name: str) -> int:
    """Units of this loop holding or waiting for a turn at the counter (for the tests)."""
    queue = _queues.get((asyncio.get_running_loop(), tenant_id, name))
    return queue.users if queue is not None else 0


def _leave(key: tuple[Any, uuid.UUID, str], queue: _Queue) -> None:
    queue.users -= 1
    if queue.users == 0:
        del _queues[key]
