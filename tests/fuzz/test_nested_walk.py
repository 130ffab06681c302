"""The cross-tenant walk through nested fields and node(id), for every type.

The root-field walker (``tests/foundation/test_cross_tenant.py``) calls every query
and mutation with another tenant's ids; this one follows what hangs below them. For
each caller (a merchant, an agency, with ADMIN keys):

* every root query that needs no argument is asked for *everything* it can return,
  nested objects included (a selection generated from the schema, every connection
  followed), and nothing of a tenant outside the caller's sight may come back;
* every real object of every other tenant, of every type that implements ``Node``, is
  asked for by ``node(id)`` with the same deep selection: the answer is null, and
  again nothing leaks.

The world (payments, cases, payouts, webhook endpoints and deliveries,
notifications, keys, policies of every tenant) is the fuzz suite's.
"""

from __future__ import annotations

from typing import Any

import httpx
from graphql import (
    GraphQLEnumType,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    Undefined,
    parse,
)

from qrefund.graphql_schema.cost import CostModel, QueryCost
from qrefund.graphql_schema.node import RESOLVERS
from qrefund.graphql_schema.schema import default_schema
from qrefund.platform.config import Settings
from tests.fuzz.checks import Inspector
from tests.fuzz.world import Caller, FuzzWorld
from tests.support.world import World

SCHEMA: GraphQLSchema = default_schema()._schema
DEPTH = 4  # levels of objects below the root (the depth limit is 10)
LIMITS = Settings()
TOKENS = LIMITS.max_query_tokens  # documents are cut to fit the server's limits
COST = QueryCost(CostModel.of(LIMITS))
PAGE = 5  # `first` on every connection on the way down


def _named(kind: Any) -> Any:
    while isinstance(kind, GraphQLNonNull | GraphQLList):
        kind = kind.of_type
    return kind


def selection(kind: Any, depth: int) -> str:
    """Every field of ``kind`` that needs no argument (or only ``first``), recursively."""
    kind = _named(kind)
    if isinstance(kind, GraphQLScalarType | GraphQLEnumType):
        return ""
    if isinstance(kind, GraphQLUnionType | GraphQLInterfaceType):
        return "{ __typename }"
    parts = []
    for name, field in kind.fields.items():
        required = [a for a, arg in field.args.items()
                    if isinstance(arg.type, GraphQLNonNull) and arg.default_value is Undefined]
        if required:
            continue
        inner = _named(field.type)
        if isinstance(inner, GraphQLScalarType | GraphQLEnumType):
            parts.append(name)
        elif depth > 0:
            args = f"(first: {PAGE})" if "first" in field.args else ""
            parts.append(f"{name}{args} {selection(inner, depth - 1)}")
    return "{ " + " ".join(parts or ["__typename"]) + " }"


def _root_queries() -> list[str]:
    query: GraphQLObjectType = SCHEMA.query_type  # type: ignore[assignment]
    documents = []
    for name, field in query.fields.items():
        required = [a for a, arg in field.args.items()
                    if isinstance(arg.type, GraphQLNonNull) and arg.default_value is Undefined]
        inner = _named(field.type)
        if required or isinstance(inner, GraphQLScalarType | GraphQLEnumType):
            continue
        args = f"(first: {PAGE})" if "first" in field.args else ""
        documents.append(_within_limits(
            lambda depth, name=name, args=args, inner=inner:
            f"{{ {name}{args} {selection(inner, depth)} }}"))
    return documents


def _within_limits(build: Any) -> str:
    """The deepest document ``build(depth)`` within the server's token and cost limits."""
    for depth in range(DEPTH, 0, -1):
        document: str = build(depth)
        try:
            parsed = parse(document, max_tokens=TOKENS)
        except GraphQLError:
            continue
        if COST.estimate(SCHEMA, parsed, None, {}) <= LIMITS.max_query_cost:
            return document
    raise AssertionError("no depth fits the token and cost limits")


def _node_document(type_name: str) -> str:
    return _within_limits(lambda depth: (
        "query($id: ID!) { node(id: $id) { id ... on " + type_name + " "
        + selection(SCHEMA.get_type(type_name), depth - 1) + " } }"))


def _callers(world: World) -> list[Caller]:
    return [Caller("a:ADMIN", world.key("a"), world.merchant_a),
            Caller("agency:ADMIN", world.key("agency"), world.agency_id)]


async def _post(client: httpx.AsyncClient, caller: Caller, document: str,
                variables: dict[str, Any] | None = None) -> httpx.Response:
    return await client.post("/graphql", json={"query": document, "variables": variables or {}},
                             headers={"Authorization": f"Bearer {caller.key}"})


async def test_every_query_followed_down_shows_nothing_of_other_tenants(
    client: httpx.AsyncClient, fuzz_world: FuzzWorld, inspector: Inspector
) -> None:
    documents = _root_queries()
    assert len(documents) >= 6, documents  # viewer, merchants, transactions, refundCases, ...
    for caller in _callers(fuzz_world.world):
        for document in documents:
            response = await _post(client, caller, document)
            body = response.json()
            assert "errors" not in body, (caller.label, document[:80], body)
            inspector.check(caller, response.status_code, response.text)
    assert inspector.hits >= len(documents)  # the walk saw real objects of the callers


async def test_node_of_every_type_of_other_tenants_is_null(
    client: httpx.AsyncClient, fuzz_world: FuzzWorld, inspector: Inspector
) -> None:
    by_type = fuzz_world.ids_by_type()
    # Every node type has real objects in the world (else this walk would miss it).
    missing = set(RESOLVERS) - set(by_type) - {"RefundPolicy"}
    assert not missing, f"no object of these node types in the world: {sorted(missing)}"
    asked = 0
    for caller in _callers(fuzz_world.world):
        for type_name, global_ids in by_type.items():
            if type_name not in RESOLVERS:
                continue
            for global_id in global_ids:
                owner = fuzz_world.owners[global_id]
                if inspector.visible(caller, owner, type_name):
                    continue  # the caller's own (or a descendant's) object
                response = await _post(client, caller, _node_document(type_name),
                                       {"id": global_id})
                assert response.json() == {"data": {"node": None}}, (
                    caller.label, type_name, response.text[:500])
                inspector.check(caller, response.status_code, response.text)
                asked += 1
    assert asked > 20, asked
