"""Connections kept out of the pool from one read unit to the next (PostgreSQL).

A read unit on a bare connection (``Database._read_unit``) took its connection from
SQLAlchemy's pool and gave it back: a ``Connection`` object built, the pool's checkout
and its reset on return, and three greenlet switches, about 0.2 ms of CPU a unit
(measured: 0.35 ms for checkout, ``SELECT 1``, COMMIT and checkin against 0.15 ms for
the same statements on a bare psycopg connection), a tenth of a request for one case by
id. A read unit ends clean (its transaction committed or rolled back on psycopg), so the
connection can serve the next read unit as it is: :class:`ReadConnections` lends it out
again without going through the pool.

What goes back to the pool instead of being kept (the pool's rules apply there):

* a connection SQLAlchemy invalidated or closed, or with a transaction still open (a
  unit that could not end it);
* a connection taken from the pool more than ``hold_seconds`` ago, so that recycling
  (``QREFUND_DB_POOL_RECYCLE_SECONDS``) still replaces every connection in time;
* any connection past the first ``keep`` idle ones (as many as the pool's size);
* any connection while the pool has nothing left to give (no idle connection, no room
  to open one): a unit of work waiting on the pool (a write) gets it, never waits while
  connections sit idle here.

Writes keep taking their connections from the pool: their sessions begin and end
transactions SQLAlchemy's way, and they are not the hot path this is for.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from psycopg.pq import TransactionStatus
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import QueuePool


@dataclass(eq=False)
class Lent:
    """A connection lent to a read unit, and when it was taken from the pool."""

    connection: AsyncConnection
    taken_at: float = field(default_factory=time.monotonic)


class ReadConnections:
    """The read units' connections of one engine (one per process)."""

    def __init__(self, engine: AsyncEngine, *, keep: int, hold_seconds: float,
                 max_overflow: int) -> None:
        self._engine = engine
        pool = engine.sync_engine.pool
        self._pool = pool if isinstance(pool, QueuePool) else None
        self.keep = keep if self._pool is not None else 0  # NullPool: nothing to keep
        self.hold_seconds = hold_seconds
        self._max_overflow = max_overflow
        self._idle: list[Lent] = []

    @property
    def idle(self) -> list[AsyncConnection]:
        """The connections kept idle now (for the tests' tracing)."""
        return [lent.connection for lent in self._idle]

    async def take(self) -> Lent:
        """A kept connection (the one given back last), else one from the pool."""
        while self._idle:
            lent = self._idle.pop()
            if time.monotonic() - lent.taken_at < self.hold_seconds:
                return lent
            await lent.connection.close()  # held long enough: the pool may recycle it
        return Lent(await self._engine.connect())

    async def give_back(self, lent: Lent) -> None:
        """Keep ``lent`` for the next read unit, or return it to the pool (see the
        module docstring for when)."""
        if len(self._idle) < self.keep and self._reusable(lent) and self._pool_has_room():
            self._idle.append(lent)
            return
        await lent.connection.close()

    async def close(self) -> None:
        """Return every kept connection to the pool (before the engine is disposed)."""
        idle, self._idle = self._idle, []
        for lent in idle:
            await lent.connection.close()

    def _reusable(self, lent: Lent) -> bool:
        connection = lent.connection
        sync = connection.sync_connection
        if sync is None or sync.invalidated or sync.closed or connection.in_transaction():
            return False
        if time.monotonic() - lent.taken_at >= self.hold_seconds:
            return False
        raw = sync.connection.driver_connection
        return bool(raw is not None and not raw.closed
                    and raw.info.transaction_status == TransactionStatus.IDLE)

    def _pool_has_room(self) -> bool:
        pool = self._pool
        assert pool is not None
        return pool.checkedin() > 0 or pool.overflow() < self._max_overflow
