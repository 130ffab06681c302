"""Keyset pagination of `transactions` over several pages, with each filter."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from qrefund.graphql_schema import ids
from qrefund.platform.db import Database
from qrefund.platform.transactions import service
from qrefund.platform.transactions.models import PaymentChannel, Transaction, TransactionStatus
from qrefund.tenants.auth import authenticate
from tests.support.graphql import ok
from tests.support.world import World

PAGE = """query($first: Int, $after: String, $f: TransactionFilterInput) {
  transactions(first: $first, after: $after, filter: $f) {
    totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id merchantOrderNo } } } }"""

BASE = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
CHANNELS = list(PaymentChannel)
STATUSES = list(TransactionStatus)


@dataclass
class Seeded:
    a: list[Transaction]
    b: list[Transaction]


async def _seed(
    db: Database, key: str, prefix: str, n: int, start: datetime = BASE
) -> list[Transaction]:
    scope = await authenticate(db, key)
    out = []
    async with db.unit_of_work(scope) as uow:
        for i in range(n):
            out.append(
                await service.record(
                    uow,
                    service.RecordTransaction(
                        merchant_id=None,
                        merchant_order_no=f"{prefix}-{i:03d}",
                        channel=CHANNELS[i % len(CHANNELS)],
                        provider_reference=f"ref-{prefix}-{i}",
                        amount=Decimal(100 + i * 7) / 100,
                        currency="CNY",
                        status=STATUSES[i % len(STATUSES)],
                        # every fourth payment shares the previous one's time: ties break on id
                        paid_at=start + timedelta(minutes=(i - (i % 4 == 3)) * 10),
                        terminal_id=f"T{i % 3}",
                        store_id=f"S{i % 2}",
                    ),
                )
            )
    return out


@pytest.fixture
async def seeded(db: Database, world: World) -> Seeded:
    return Seeded(
        a=await _seed(db, world.key("a", "INTEGRATION"), "A", 60),
        b=await _seed(db, world.key("b", "INTEGRATION"), "B", 12),
    )


def _expected(rows: list[Transaction], keep: Callable[[Transaction], bool]) -> list[str]:
    chosen = sorted((t for t in rows if keep(t)), key=lambda t: (t.paid_at, t.id), reverse=True)
    return [t.merchant_order_no for t in chosen]


async def _walk(client: httpx.AsyncClient, key: str, flt: dict[str, Any], first: int) -> list[str]:
    seen: list[str] = []
    after: str | None = None
    for page_no in range(100):
        conn = (await ok(client, PAGE, {"first": first, "after": after, "f": flt}, key=key))[
            "transactions"
        ]
        edges = conn["edges"]
        info = conn["pageInfo"]
        assert len(edges) <= first
        assert info["hasPreviousPage"] is (page_no > 0)
        if edges:
            assert (info["startCursor"], info["endCursor"]) == (
                edges[0]["cursor"],
                edges[-1]["cursor"],
            )
        seen.extend(e["node"]["merchantOrderNo"] for e in edges)
        assert conn["totalCount"] >= len(seen)
        if not info["hasNextPage"]:
            assert conn["totalCount"] == len(seen)
            return seen
        assert len(edges) == first
        after = info["endCursor"]
    raise AssertionError("pagination did not end")


FILTERS: list[tuple[str, dict[str, Any], Callable[[Transaction], bool]]] = [
    ("none", {}, lambda t: True),
    ("status", {"status": ["FAILED"]}, lambda t: t.status == "FAILED"),
    ("channel", {"channel": ["ALIPAY", "ECNY"]}, lambda t: t.channel in ("ALIPAY", "ECNY")),
    (
        "paid-at",
        {
            "paidFrom": (BASE + timedelta(hours=2)).isoformat(),
            "paidTo": (BASE + timedelta(hours=6)).isoformat(),
        },
        lambda t: BASE + timedelta(hours=2) <= t.paid_at < BASE + timedelta(hours=6),
    ),
    (
        "amount",
        {"amountMin": "1.50", "amountMax": "3.00", "currency": "CNY"},
        lambda t: 150 <= t.amount_minor <= 300,
    ),
    ("terminal", {"terminalId": "T1"}, lambda t: t.terminal_id == "T1"),
    ("store", {"storeId": "S0"}, lambda t: t.store_id == "S0"),
    ("order-no", {"merchantOrderNo": "A-017"}, lambda t: t.merchant_order_no == "A-017"),
    (
        "combined",
        {"status": ["SUCCEEDED"], "storeId": "S1", "amountMin": "2", "currency": "CNY"},
        lambda t: t.status == "SUCCEEDED" and t.store_id == "S1" and t.amount_minor >= 200,
    ),
]


@pytest.mark.parametrize(
    ("flt", "keep"), [(f, k) for _n, f, k in FILTERS], ids=[n for n, _f, _k in FILTERS]
)
async def test_pages_walk_each_filter(
    client: httpx.AsyncClient,
    world: World,
    seeded: Seeded,
    flt: dict[str, Any],
    keep: Callable[[Transaction], bool],
) -> None:
    expected = _expected(seeded.a, keep)
    assert expected, "the seed data should match every filter"
    assert await _walk(client, world.key("a", "VIEWER"), flt, first=7) == expected


async def test_agency_filters_by_merchant(
    client: httpx.AsyncClient, world: World, seeded: Seeded
) -> None:
    key = world.key("agency")
    both = await _walk(client, key, {}, first=25)
    assert both == _expected(seeded.a + seeded.b, lambda t: True)
    only_b = await _walk(client, key, {"merchantIds": [ids.encode("Tenant", world.merchant_b)]}, 5)
    assert only_b == _expected(seeded.b, lambda t: True)


async def test_default_and_maximum_page_size(
    client: httpx.AsyncClient, world: World, seeded: Seeded, settings: Any
) -> None:
    key = world.key("agency")
    default = (await ok(client, PAGE, {}, key=key))["transactions"]
    assert len(default["edges"]) == settings.default_page_size
    assert default["pageInfo"]["hasNextPage"] is True
    biggest = (await ok(client, PAGE, {"first": settings.max_page_size}, key=key))["transactions"]
    assert len(biggest["edges"]) == min(settings.max_page_size, 72)


async def test_later_pages_ignore_newer_payments(
    client: httpx.AsyncClient, world: World, seeded: Seeded, db: Database
) -> None:
    """Keyset cursors: payments arriving between pages neither repeat nor shift rows."""
    key = world.key("a")
    first = (await ok(client, PAGE, {"first": 10}, key=key))["transactions"]
    await _seed(db, world.key("a", "INTEGRATION"), "NEWER", 3, start=BASE + timedelta(days=1))
    rest = await _walk_from(client, key, first["pageInfo"]["endCursor"])
    seen = [e["node"]["merchantOrderNo"] for e in first["edges"]] + rest
    assert seen == _expected(seeded.a, lambda t: True)


async def _walk_from(client: httpx.AsyncClient, key: str, after: str) -> list[str]:
    seen: list[str] = []
    cursor: str | None = after
    while cursor:
        conn = (await ok(client, PAGE, {"first": 20, "after": cursor}, key=key))["transactions"]
        seen.extend(e["node"]["merchantOrderNo"] for e in conn["edges"])
        cursor = conn["pageInfo"]["endCursor"] if conn["pageInfo"]["hasNextPage"] else None
    return seen
