"""A page deep in a long list starts its index scan at the cursor.

The keyset condition ``paid_at < $1 OR (paid_at = $1 AND id < $2)`` is no index
condition for PostgreSQL: without the redundant bound ``paid_at <= $1`` a page far
down a large merchant's list walked the index from its newest row and filtered out
every row before the page (``bench.scale``: page 9,520 of 952,047 payments, 476,000
rows thrown away, 136 ms). Here the API's own statement for a second page is taken
as it goes to the database and explained with table scans off (so the plan does not
depend on the tiny test tables): the cursor must be in the index condition.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from qrefund.graphql_schema import ids
from qrefund.platform.db import Database
from qrefund.tenants.auth import authenticate
from tests.conftest import BACKEND
from tests.support.graphql import ok
from tests.support.refund_cases import payments_with_cases
from tests.support.world import World

pytestmark = pytest.mark.skipif(BACKEND == "sqlite", reason="PostgreSQL's plans")

TABLES = {"transactions": "transactions", "refundCases": "refund_cases"}
PAGE = "query($after: String) { %s(first: 3, after: $after) { edges { cursor node { id } } } }"


@contextmanager
def captured(db: Database) -> Iterator[list[tuple[str, Any]]]:
    statements: list[tuple[str, Any]] = []

    def before(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(db.read_engine.sync_engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(db.read_engine.sync_engine, "before_cursor_execute", before)


async def _index_conditions(db: Database, world: World, sql: str, params: Any) -> str:
    scope = await authenticate(db, world.key("a"))
    async with db.unit_of_work(scope, readonly=True) as uow:
        conn = await uow._session.connection()
        await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        await conn.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
        rows = await conn.exec_driver_sql("EXPLAIN " + sql, params)
        plan = [r[0] for r in rows.all()]
    return "\n".join(line for line in plan if "Index Cond" in line) or "\n".join(plan)


@pytest.mark.parametrize(("field", "column"), [("transactions", "paid_at"),
                                               ("refundCases", "created_at")])
async def test_a_later_page_seeks_the_index_to_its_cursor(
    client: httpx.AsyncClient, world: World, db: Database, field: str, column: str
) -> None:
    await payments_with_cases(db, world, 8, prefix="D")
    first = await ok(client, PAGE % field, {"after": None}, key=world.key("a"))
    cursor = first[field]["edges"][-1]["cursor"]
    with captured(db) as statements:
        second = await ok(client, PAGE % field, {"after": cursor}, key=world.key("a"))
    assert len(second[field]["edges"]) == 3
    page_sql = [(s, p) for s, p in statements if f"ORDER BY {TABLES[field]}." in s]
    assert len(page_sql) == 1, statements
    conditions = await _index_conditions(db, world, *page_sql[0])
    assert f"{column} <=" in conditions, conditions


async def _plan(db: Database, world: World, key: str, sql: str, params: Any) -> str:
    scope = await authenticate(db, key)
    async with db.unit_of_work(scope, readonly=True) as uow:
        conn = await uow._session.connection()
        await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        await conn.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
        rows = await conn.exec_driver_sql("EXPLAIN " + sql, params)
        return "\n".join(r[0] for r in rows.all())


FILTERED = """query($f: TransactionFilterInput) { transactions(first: 3, filter: $f) {
  edges { cursor node { id } } } }"""


@pytest.mark.parametrize("who", ["merchant", "agency naming one merchant"])
async def test_one_merchants_page_reads_its_index_in_order(
    client: httpx.AsyncClient, world: World, db: Database, who: str
) -> None:
    """One merchant's page (its own key, or an agency's filtered to it) is the first rows
    of the page index, read backwards: no sort. The statement compiled once for it names
    the merchant by equality; ``= ANY(array)``, even of one id, read every payment of the
    merchant and sorted them (``statements.scope_shape``)."""
    await payments_with_cases(db, world, 8, prefix="O")
    key = world.key("a" if who == "merchant" else "agency")
    flt = {} if who == "merchant" else {"merchantIds": [ids.encode("Tenant", world.merchant_a)]}
    with captured(db) as statements:
        page = await ok(client, FILTERED, {"f": flt}, key=key)
    assert len(page["transactions"]["edges"]) == 3
    page_sql = [(s, p) for s, p in statements if "ORDER BY transactions." in s]
    assert len(page_sql) == 1, statements
    plan = await _plan(db, world, key, *page_sql[0])
    assert "Sort" not in plan and "Index" in plan, plan
