"""A refund case page that shows its cases' payments or latest timeline entries reads
them in the page's own statement (outer joins) and hands them to the loaders of
``transaction`` and ``lastEvent``: the rows those loaders would have read, in one
statement instead of three, however the query spells the fields."""

from __future__ import annotations

import httpx
import pytest

from qrefund.platform.db import Database
from qrefund.platform.refunds import queries
from qrefund.platform.refunds import service as refunds
from qrefund.platform.refunds.queries import CaseFilter
from qrefund.tenants.auth import authenticate
from tests.support.graphql import ok
from tests.support.refund_cases import payments_with_cases
from tests.support.statements import costs_no_more
from tests.support.world import World

IDS_ONLY = "{ refundCases(first: 5) { edges { node { id } } } }"
RELATED = [
    "{ refundCases(first: 5) { edges { node { id transaction { id merchantOrderNo } "
    "lastEvent { type seq } } } } }",
    # aliases, a fragment spread and an inline fragment
    "query { refundCases(first: 5) { ...page } } fragment page on RefundCaseConnection "
    "{ edges { node { ... on RefundCase { id pay: transaction { id } "
    "last: lastEvent { type } } } } }",
]


async def _cases(db: Database, world: World) -> None:
    await payments_with_cases(db, world, 6, prefix="joined")
    agent = await authenticate(db, world.key("a", "REFUND_AGENT"))
    async with db.unit_of_work(agent) as uow:  # one case with a second timeline entry
        page = await queries.list_page(uow, CaseFilter(), first=1)
        await refunds.start_review(uow, page.items[0].tenant_id, page.items[0].id)


async def test_the_joined_rows_are_the_rows_the_loaders_read(db: Database,
                                                             world: World) -> None:
    await _cases(db, world)
    scope = await authenticate(db, world.key("a"))
    async with db.unit_of_work(scope, readonly=True) as uow:
        page = await queries.list_page(uow, CaseFilter(), first=10, transactions=True,
                                       last_events=True)
        assert len(page.items) == 6
        assert page.transactions == await queries.transactions_by_key(
            uow, [(c.tenant_id, c.transaction_id) for c in page.items])
        assert page.last_events == await queries.last_event_by_case(
            uow, [(c.tenant_id, c.id) for c in page.items])
        assert sorted(e.seq for e in page.last_events.values()) == [1, 1, 1, 1, 1, 2]
        plain = await queries.list_page(uow, CaseFilter(), first=10)
        assert (plain.items, plain.cursors) == (page.items, page.cursors)
        assert not plain.transactions and not plain.last_events


@pytest.mark.parametrize("query", RELATED)
async def test_a_page_with_its_relations_costs_the_statements_of_a_bare_page(
    client: httpx.AsyncClient, db: Database, world: World, query: str
) -> None:
    await _cases(db, world)
    data = await costs_no_more(client, db, world.key("a"), IDS_ONLY, query)
    nodes = [edge["node"] for edge in data["refundCases"]["edges"]]
    assert len(nodes) == 5
    for node in nodes:
        payment = node.get("transaction") or node.get("pay")
        last = node.get("lastEvent") or node.get("last")
        assert payment["id"] and last["type"] in ("submitted", "review_started")


NODE = "query($id: ID!) { node(id: $id) { ... on RefundCase { id%s } } }"


async def test_a_case_by_id_brings_its_payment_in_the_same_statement(
    client: httpx.AsyncClient, db: Database, world: World
) -> None:
    await _cases(db, world)
    key = world.key("a")
    first = (await ok(client, RELATED[0], key=key))["refundCases"]["edges"][0]["node"]
    variables = {"id": first["id"]}
    data = await costs_no_more(client, db, key, NODE % "",
                               NODE % " transaction { id merchantOrderNo }", variables)
    assert data["node"]["transaction"] == first["transaction"]
    # Another tenant's case is not found, payment or not.
    other = await ok(client, NODE % " transaction { id }", variables, key=world.key("b"))
    assert other["node"] is None
