"""The query cost limit: page sizes multiply through nesting; too costly is refused
before any resolver runs (no SQL beyond authentication), and says by how much."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import (
    DocumentNode,
    ExecutionResult,
    FragmentDefinitionNode,
    OperationDefinitionNode,
    get_introspection_query,
    parse,
    validate,
)

from qrefund.graphql_schema.cost import CostModel, QueryCost
from qrefund.graphql_schema.schema import build_schema, default_schema
from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from tests.foundation.test_sql_count import counting
from tests.refunds.helpers import record_txn, submit
from tests.support.graphql import gql
from tests.support.world import World

README = Path(__file__).resolve().parents[2] / "README.md"
LIMIT = Settings().max_query_cost

NODE = ("edges { node { id caseNumber events { type occurredAt } "
        "transaction { id refundCases { id caseNumber } } } }")
CASE = f"refundCases(first: 100) {{ {NODE} }}"
# The audit's query: 30 aliases of a nested refundCases(first: 100), as a VIEWER.
AUDIT = "{ " + " ".join(f"a{i}: {CASE}" for i in range(30)) + " }"
# 1 + 100 * (edges 1 + node 1 + events 20 + transaction 1 + its refundCases 20), 30 times.
AUDIT_COST = 30 * (1 + 100 * (1 + 1 + 20 + 1 + 20))

# The same query with its cost behind fragments: named, nested, inline, on the connection.
AUDIT_IN_FRAGMENTS = "{ " + " ".join(f"a{i}: refundCases(first: 100) {{ ...Page }}"
                                     for i in range(30)) + """ }
fragment Page on RefundCaseConnection { edges { node { ...Case } } }
fragment Case on RefundCase { id ... on RefundCase { caseNumber events { type occurredAt } }
  transaction { ...Payment } }
fragment Payment on Transaction { id refundCases { ... { id caseNumber } } }"""

# A deep, legitimate page: 100 cases with their whole timeline, evidence and payouts.
DEEP_PAGE = """query Deep($first: Int!) { refundCases(first: $first) {
  totalCount pageInfo { hasNextPage endCursor }
  edges { cursor node { id caseNumber status requestedAmount { amount currency }
    events { seq type actor occurredAt } evidence { type filename } lastEvent { type }
    payouts { status amount { amount } } merchant { slug } policy { version }
    transaction { id amount { amount currency } refundCases { caseNumber status } } } } } }"""

# Five aliases of the audit's page, sized by $n: 5 * (1 + n * 43).
VARIABLE_PAGES = ("query($n: Int) { "
                  + " ".join(f"p{i}: refundCases(first: $n) {{ {NODE} }}" for i in range(5))
                  + " }")


async def _cases(db: Database, world: World, count: int = 3) -> None:
    txn = await record_txn(db, world)
    for _ in range(count):
        await submit(db, world, txn, amount="1.00")


def _cost(query: str, variables: dict[str, Any] | None = None) -> int:
    schema = default_schema()._schema
    document = parse(query)
    assert validate(schema, document) == []  # an estimate is only meaningful for a valid query
    return QueryCost(CostModel.of(Settings())).estimate(schema, document, None, variables)


# -- refusals ---------------------------------------------------------------------------


async def test_the_audit_query_is_refused_before_any_resolver_runs(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    # Given cases to read and a VIEWER key
    await _cases(db, world)
    key = world.key("a", "VIEWER")
    await gql(client, "{ __typename }", key=key)  # the key's first use also records it
    with counting(db) as baseline:  # authentication alone: no field needs the database
        assert (await gql(client, "{ __typename }", key=key))["data"] == {"__typename": "Query"}
    # When the VIEWER sends the audit's query
    with counting(db) as statements:
        body = await gql(client, AUDIT, key=key)
    # Then it is refused with the estimate and the limit, and no statement ran for it
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert f"{AUDIT_COST}" in error["message"] and f"{LIMIT}" in error["message"]
    assert body["data"] is None
    assert body["extensions"] == {"cost": {"estimated": AUDIT_COST, "limit": LIMIT}}
    assert statements == baseline
    # ... while one alias of it is within the limit, runs, and reads the cases.
    with counting(db) as one_alias:
        accepted = await gql(client, "{ " + CASE + " }", key=key)
    assert "errors" not in accepted and len(accepted["data"]["refundCases"]["edges"]) == 3
    assert len(one_alias) > len(baseline)


async def test_fragments_cannot_hide_cost(client: httpx.AsyncClient, world: World) -> None:
    assert _cost(AUDIT_IN_FRAGMENTS) == AUDIT_COST
    body = await gql(client, AUDIT_IN_FRAGMENTS, key=world.key("a", "VIEWER"))
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert body["extensions"]["cost"]["estimated"] == AUDIT_COST


async def test_a_costly_subscription_is_refused_before_it_starts(settings: Settings) -> None:
    # Three aliases of a payment's cases with their timelines, twice nested, per update.
    nested = "refundCases { events { type } transaction { refundCases { events { type } } } }"
    query = ("subscription { refundCaseUpdates { cursor refundCase { "
             + " ".join(f"t{i}: transaction {{ {nested} }}" for i in range(3)) + " } } }")
    # No context: had the resolver started, it would fail on the missing caller instead.
    stream = await build_schema(settings).subscribe(query)
    assert not isinstance(stream, ExecutionResult)
    first = await anext(stream)
    await stream.aclose()
    assert first.errors is not None
    assert first.errors[0].extensions == {"code": "QUERY_TOO_COMPLEX"}
    assert first.extensions == {"cost": {"estimated": _cost(query), "limit": LIMIT}}


async def test_variables_for_first_are_honoured(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    await _cases(db, world)
    key = world.key("a", "VIEWER")
    # Given page sizes passed as a variable, when they are large the query is refused ...
    assert _cost(VARIABLE_PAGES, {"n": 100}) == 5 * (1 + 100 * 43) > LIMIT
    big = await gql(client, VARIABLE_PAGES, {"n": 100}, key=key)
    assert big["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert big["extensions"]["cost"]["estimated"] == 5 * (1 + 100 * 43)
    # ... and when they are small the same document runs (its plan is cached, not its cost).
    small = await gql(client, VARIABLE_PAGES, {"n": 2}, key=key)
    assert "errors" not in small, small
    assert len(small["data"]["p0"]["edges"]) == 2 and "extensions" not in small
    # A variable's default counts when the variable is not sent.
    with_default = VARIABLE_PAGES.replace("$n: Int)", "$n: Int = 100)")
    assert _cost(with_default) == _cost(VARIABLE_PAGES, {"n": 100})
    assert _cost(with_default, {"n": 2}) == 5 * (1 + 2 * 43)


def test_the_estimate_multiplies_page_sizes_through_nesting() -> None:
    settings = Settings()
    default, cap, lists = (settings.default_page_size, settings.max_page_size,
                           settings.query_cost_list_size)
    # A connection multiplies its edges, not pageInfo or totalCount; leaves are free.
    assert _cost("{ refundCases(first: 10) { totalCount pageInfo { hasNextPage } "
                 "edges { cursor node { id } } } }") == 1 + 1 + 10 * 2
    # Omitted first: the default page size; more than the cap counts as the cap.
    assert _cost("{ transactions { edges { node { id } } } }") == 1 + default * 2
    assert _cost("{ transactions(first: 5000) { edges { node { id } } } }") == 1 + cap * 2
    # Lists without first: the assumed list size, nested lists multiply.
    assert _cost("{ transactions(first: 10) { edges { node { refundCases { events { type } }"
                 " } } } }") == 1 + 10 * (1 + 1 + lists * (1 + lists))
    # A list with its own first (and default): that many.
    assert _cost("{ refundPolicyHistory { version } }") == 20
    assert _cost("{ refundPolicyHistory(first: 3) { consumerText { locale } } }") == (
        3 * (1 + lists))
    # Introspection is free; every alias counts.
    assert _cost("{ __typename __schema { types { fields { name } } } }") == 0
    assert _cost("{ a: viewer { tenant { id } } b: viewer { tenant { id } } }") == 4


# -- what is accepted -------------------------------------------------------------------


async def test_a_deep_page_is_accepted(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    await _cases(db, world)
    assert _cost(DEEP_PAGE, {"first": 100}) <= LIMIT
    body = await gql(client, DEEP_PAGE, {"first": 100}, key=world.key("a", "VIEWER"))
    assert "errors" not in body, body
    assert body["data"]["refundCases"]["totalCount"] == 3 and "extensions" not in body


async def test_introspection_is_accepted(client: httpx.AsyncClient, world: World) -> None:
    body = await gql(client, get_introspection_query(), key=world.key("a", "VIEWER"))
    assert "errors" not in body and body["data"]["__schema"]["queryType"]["name"] == "Query"


def _readme_operations() -> list[tuple[str, DocumentNode]]:
    """Every operation in the README's graphql blocks, each with the block's fragments."""
    text = README.read_text(encoding="utf-8")
    found = []
    for number, block in enumerate(re.findall(r"```graphql\n(.*?)```", text, flags=re.DOTALL)):
        document = parse(block)
        fragments = [d for d in document.definitions if isinstance(d, FragmentDefinitionNode)]
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        for index, operation in enumerate(operations):
            label = f"block {number + 1}, operation {index + 1}: {block.splitlines()[0]}"
            found.append((label, DocumentNode(definitions=(operation, *fragments))))
    return found


def test_the_readme_example_queries_are_accepted() -> None:
    operations = _readme_operations()
    assert len(operations) >= 6, "the README's graphql blocks were not found"
    estimator = QueryCost(CostModel.of(Settings()))
    schema = default_schema()._schema
    costs = {label: estimator.estimate(schema, doc, None, {}) for label, doc in operations}
    assert all(cost <= LIMIT for cost in costs.values()), costs
    assert any(cost > 50 for cost in costs.values()), costs  # the page examples counted


@pytest.mark.parametrize("first", [1, 50, 100])
async def test_accepted_queries_carry_no_cost_extension(
    client: httpx.AsyncClient, world: World, first: int
) -> None:
    body = await gql(client, "query($f: Int) { transactions(first: $f) { edges { node { id } } } }",
                     {"f": first}, key=world.key("a", "VIEWER"))
    assert "errors" not in body and "extensions" not in body
