"""Statement counts of API requests compared: a query that shows more must cost no more."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
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


@contextmanager
def round_trips(db: Database) -> Iterator[list[str]]:
    """What the request engine sends, in order: each statement's first word, and BEGIN,
    COMMIT and ROLLBACK."""
    seen: list[str] = []
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
        yield seen
    finally:
        for name, fn in listeners:
            event.remove(engine, name, fn)
