"""Statement counts of API requests compared: a query that shows more must cost no more."""

from __future__ import annotations

from typing import Any

import httpx

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
