"""The statement count of a `transactions` page does not grow with the page size."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from graphql import GraphQLObjectType, build_schema, get_named_type, is_leaf_type
from sqlalchemy import event

from qrefund.graphql_schema.schema import print_sdl
from qrefund.platform.db import Database
from qrefund.platform.transactions import service
from qrefund.platform.transactions.models import PaymentChannel, TransactionStatus
from qrefund.tenants.auth import authenticate
from tests.support.graphql import ok
from tests.support.world import World


@contextmanager
def counting(db: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engines = {id(e): e for e in (db.read_engine, db.write_engine)}.values()
    for engine in engines:
        event.listen(engine.sync_engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        for engine in engines:
            event.remove(engine.sync_engine, "before_cursor_execute", before)


def _selection(type_: Any, depth: int) -> str:
    """Scalar fields of an object type, and (one level down) of the objects it links to."""
    parts = []
    for name, field in type_.fields.items():
        named = get_named_type(field.type)
        if is_leaf_type(named):
            parts.append(name)
        elif depth > 0 and isinstance(named, GraphQLObjectType) and not field.args:
            parts.append(f"{name} {{ {_selection(named, depth - 1)} }}")
    return " ".join(parts)


def _page_query() -> str:
    """Every field of Transaction, so a field added later with an N+1 shows up here."""
    schema = build_schema(print_sdl())
    node = _selection(schema.type_map["Transaction"], depth=1)
    assert "merchant {" in node
    return (
        "query($first: Int!) { transactions(first: $first) { totalCount "
        "edges { cursor node { " + node + " } } } }"
    )


async def test_statements_per_page_do_not_grow_with_page_size(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    scope = await authenticate(db, world.key("a", "INTEGRATION"))
    async with db.unit_of_work(scope) as uow:
        for i in range(60):
            await service.record(
                uow,
                service.RecordTransaction(
                    merchant_id=None,
                    merchant_order_no=f"N1-{i}",
                    channel=PaymentChannel.ALIPAY,
                    provider_reference=f"r{i}",
                    amount=Decimal("9.99"),
                    currency="CNY",
                    status=TransactionStatus.SUCCEEDED,
                    paid_at=datetime(2026, 10, 1, tzinfo=UTC) + timedelta(minutes=i),
                ),
            )
    query, key = _page_query(), world.key("a")
    await ok(client, query, {"first": 1}, key=key)  # warm up: pool connections, last-used stamp

    counts = {}
    for size in (1, 5, 50):
        with counting(db) as statements:
            data = await ok(client, query, {"first": size}, key=key)
        assert len(data["transactions"]["edges"]) == size
        counts[size] = len(statements)
    assert counts[1] == counts[5] == counts[50], counts
    assert counts[50] <= 8, counts  # auth (key, tenant), scope, page, count, merchants, ...
