"""Statement counts of API requests compared: a query that shows more must cost no more."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from psycopg import pq
from sqlalchemy import event

from qrefund.platform.db import Database
from tests.foundation.test_sql_count import counting
from tests.support.graphql import ok


async def costs_no_more(client: httpx.AsyncClient, db: Database, key: str, baseline: str,
                        query: str, variables: dict[str, Any] | None = None) -> Any:
    """Run ``baseline`` (after a warm-up: pool, key cache, last-used stamp) and ``query``
    with the same key and variables; ``query`` must run as many statements. Its data."""
    await ok(client, baseline, variables, key=key)
    with counting(db) as base:
        await ok(client, baseline, variables, key=key)
    with counting(db) as statements:
        data = await ok(client, query, variables, key=key)
    assert len(statements) == len(base), statements
    return data


class Seen(list[str]):
    """The command tags, in order; on PostgreSQL also ``exchanges``: the tags grouped by
    round trip (one simple-protocol message, or extended-protocol messages up to their
    Sync: each ends with the server's ReadyForQuery)."""

    def __init__(self) -> None:
        super().__init__()
        self.exchanges: list[list[str]] = []


@contextmanager
def round_trips(db: Database) -> Iterator[Seen]:
    """What the request engine sends, in order: each statement's first word, and BEGIN,
    COMMIT and ROLLBACK.

    On PostgreSQL read off the wire (libpq's trace of each connection checked out in
    the block or kept for read units when it starts: the command tag of every statement
    the server completed), since a read unit's transaction is psycopg's own, not
    SQLAlchemy's. A statement's one-time
    preparation (psycopg's Parse after a few runs) completes no command and is not
    listed. On SQLite, SQLAlchemy's events."""
    seen = Seen()
    if db.is_sqlite:
        with _sqlalchemy_events(db, seen):
            yield seen
        return
    traces: dict[int, tuple[Any, int, Any]] = {}  # id(psycopg connection) -> trace

    def start(_dbapi: Any, record: Any, _proxy: Any) -> None:
        trace(record.driver_connection)

    def trace(raw: Any) -> None:
        file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by stop, at checkin)
        fd = os.dup(file.fileno())
        raw.pgconn.trace(fd)
        raw.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
        traces[id(raw)] = (raw, fd, file)

    def stop(raw: Any) -> None:
        found = traces.pop(id(raw), None)
        if found is None:
            return
        with contextlib.suppress(Exception):  # a connection closed meanwhile: its trace stands
            raw.pgconn.untrace()  # flushes
        os.close(found[1])
        file = found[2]
        file.seek(0)
        exchange: list[str] = []
        for line in file.read().decode(errors="replace").splitlines():
            parts = line.split("\t")
            if len(parts) >= 4 and parts[0] == "B" and parts[2] == "CommandComplete":
                exchange.append(parts[3].strip().strip('"').split()[0].upper())
                seen.append(exchange[-1])
            elif len(parts) >= 3 and parts[0] == "B" and parts[2] == "ReadyForQuery":
                seen.exchanges.append(exchange)
                exchange = []
        file.close()

    def checkin(_dbapi: Any, record: Any) -> None:
        stop(record.driver_connection)

    pool = db.read_engine.sync_engine.pool
    for kept in db.read_connections.idle:  # kept out of the pool between read units
        trace(kept.sync_connection.connection.driver_connection)
    event.listen(pool, "checkout", start)
    event.listen(pool, "checkin", checkin)
    try:
        yield seen
    finally:
        event.remove(pool, "checkout", start)
        event.remove(pool, "checkin", checkin)
        for raw, _fd, _file in list(traces.values()):
            stop(raw)


@contextmanager
def _sqlalchemy_events(db: Database, seen: list[str]) -> Iterator[None]:
    engine = db.read_engine.sync_engine
    listeners: list[tuple[str, Any]] = [
        ("before_cursor_execute", lambda _c, _k, sql, *_a: seen.append(sql.split()[0].upper())),
        ("begin", lambda _c: seen.append("BEGIN")),
        ("commit", lambda _c: seen.append("COMMIT")),
        ("rollback", lambda _c: seen.append("ROLLBACK")),
    ]
    for name, fn in listeners:
        event.listen(engine, name, fn)
    try:
        yield
    finally:
        for name, fn in listeners:
            event.remove(engine, name, fn)
