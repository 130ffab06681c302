"""The fast path (graphql_schema/execution.py) answers exactly as the stock executor.

A seeded generator writes documents over refund cases, payments, tenants and the
``node`` interface: random subsets of fields, aliases, the same field twice, named
fragments, inline fragments on ``Node`` and on concrete types, ``@skip``/``@include``
with variables and literals, ``__typename``, nullable fields that are null, nested
objects and lists, and documents that fail (a page over the cap, an unknown id, a
variable of the wrong type) so that errors and their paths are compared too. Each goes
to an app with the fast path and to one without; status and body must be equal.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from graphql import GraphQLObjectType, get_named_type, is_leaf_type

from qrefund.app import create_app
from qrefund.graphql_schema import ids
from qrefund.graphql_schema.execution import FastPathExecutionContext
from qrefund.graphql_schema.schema import default_schema
from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from qrefund.platform.refunds import service
from tests.refunds.helpers import record_txn, scope_of, submit
from tests.support.world import World

DOCUMENTS = 200
# Fields left out of the walk: ones with arguments, and relations whose own pages are
# covered elsewhere (they add loaders, not leaf kinds).
SKIP = {"receiptQrSvg", "complaints", "policy", "evidence"}
DIRECTIVES = ["", "", "", "@include(if: $yes)", "@include(if: $no)", "@skip(if: $yes)",
              "@skip(if: $no)", "@include(if: true)", "@skip(if: true)"]


class Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.schema = default_schema()._schema
        self.fragments: dict[str, str] = {}

    def selection(self, type_name: str, depth: int) -> str:
        rng = self.rng
        type_ = self.schema.type_map[type_name]
        assert isinstance(type_, GraphQLObjectType)
        parts = []
        names = [n for n, f in type_.fields.items() if n not in SKIP and not f.args]
        for name in rng.sample(names, k=rng.randint(1, min(len(names), 12))):
            named = get_named_type(type_.fields[name].type)
            alias = f"a{rng.randint(0, 3)}_{name}: " if rng.random() < 0.25 else ""
            directive = rng.choice(DIRECTIVES)
            if is_leaf_type(named):
                parts.append(f"{alias}{name} {directive}")
                if rng.random() < 0.1:
                    parts.append(name)  # the same field twice (merged)
            elif depth > 0 and isinstance(named, GraphQLObjectType):
                inner = self.selection(named.name, depth - 1)
                parts.append(f"{alias}{name} {directive} {{ {inner} }}")
        if rng.random() < 0.3:
            parts.append("__typename")
        if rng.random() < 0.2:
            parts.append(f"... on {type_name} {rng.choice(DIRECTIVES)} {{ id: __typename }}"
                         if "id" not in type_.fields else
                         f"... on {type_name} {rng.choice(DIRECTIVES)} {{ id }}")
        if rng.random() < 0.2:
            name = f"F{len(self.fragments)}"
            self.fragments[name] = (f"fragment {name} on {type_name} "
                                    f"{{ {self.selection(type_name, max(depth - 1, 0))} }}")
            parts.append(f"...{name}")
        return " ".join(parts) or "__typename"

    def document(self, ids_by_type: dict[str, list[str]]) -> tuple[str, dict[str, Any]]:
        rng = self.rng
        self.fragments = {}
        variables: dict[str, Any] = {"yes": True, "no": False}
        roots = []
        for n in range(rng.randint(1, 3)):
            kind = rng.choice(["cases", "cases", "payments", "node", "node", "viewer",
                               "merchants", "broken"])
            alias = f"r{n}: "
            if kind == "cases":
                first = rng.choice([1, 3, 10])
                # by_loader relations, prefetched for the whole page: often, aliased
                # or twice now and then
                related = rng.choice(["", "transaction { id amount { amount } }",
                                      "lastEvent { type seq } t2: transaction { id }",
                                      "transaction { merchantOrderNo } lastEvent { type }"])
                roots.append(f"{alias}refundCases(first: {first}) {{ totalCount "
                             f"pageInfo {{ hasNextPage endCursor }} edges {{ cursor "
                             f"node {{ {self.selection('RefundCase', 2)} {related} }} }} }}")
            elif kind == "payments":
                roots.append(f"{alias}transactions(first: {rng.choice([2, 5])}) {{ edges "
                             f"{{ node {{ {self.selection('Transaction', 2)} }} }} }}")
            elif kind == "node":
                type_name = rng.choice(["RefundCase", "Transaction", "Payout", "Bogus"])
                var = f"id{n}"
                variables[var] = (rng.choice(ids_by_type[type_name])
                                  if type_name != "Bogus" else "bm90LWFuLWlk")
                concrete = [t for t in ("RefundCase", "Transaction", "Payout")
                            if rng.random() < 0.7]
                spreads = " ".join(f"... on {t} {{ {self.selection(t, 1)} }}" for t in concrete)
                roots.append(f"{alias}node(id: ${var}) {{ __typename ... on Node {{ id }} "
                             f"{spreads} }}")
                variables.setdefault("_ids", []).append(var)
            elif kind == "viewer":
                roots.append(f"{alias}viewer {{ role tenant {{ {self.selection('Tenant', 0)} }} }}")
            elif kind == "merchants":
                roots.append(f"{alias}merchants(first: 5) {{ edges {{ node "
                             f"{{ {self.selection('Tenant', 0)} }} }} }}")
            else:  # errors and their paths: a page over the cap, a bad cursor
                roots.append(rng.choice([
                    f"{alias}refundCases(first: 100000) {{ edges {{ node {{ id }} }} }}",
                    f'{alias}transactions(first: 2, after: "nope") {{ edges {{ cursor }} }}']))
        id_vars = variables.pop("_ids", [])
        declared = ["$yes: Boolean!", "$no: Boolean!", *(f"${v}: ID!" for v in id_vars)]
        doc = f"query Q({', '.join(declared)}) {{ {' '.join(roots)} }}"
        return "\n".join([doc, *self.fragments.values()]), variables


@pytest.fixture
async def twin_clients(settings: Settings,
                       db: Database) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    wide = {"max_query_cost": 10_000_000, "max_query_depth": 20, "max_aliases": 200}
    fast = create_app(settings.model_copy(update={**wide, "graphql_fast_path": True}), db)
    stock = create_app(settings.model_copy(update={**wide, "graphql_fast_path": False}), db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fast),
                                 base_url="http://testserver") as f, \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=stock),
                              base_url="http://testserver") as s:
        yield f, s


async def _data(db: Database, world: World) -> dict[str, list[str]]:
    """Cases in several states (null and non-null optional fields), their payments."""
    cases, payments = [], []
    agent = await scope_of(db, world, "a", "REFUND_AGENT")
    for n in range(6):
        txn = await record_txn(db, world, amount="120.00")
        payments.append(ids.encode("Transaction", txn.tenant_id, txn.id))
        case = await submit(db, world, txn, amount="20.00")
        cases.append(ids.encode("RefundCase", case.tenant_id, case.id))
        async with db.unit_of_work(agent) as uow:
            if n % 3 >= 1:
                await service.start_review(uow, case.tenant_id, case.id)
            if n % 3 == 2:
                await service.approve(uow, case.tenant_id, case.id, amount=Decimal("15.00"))
    # A payout id of a case (none exist until a payout job ran: an unknown id then).
    payouts = [ids.encode("Payout", world.merchant_a, world.merchant_a)]
    return {"RefundCase": cases, "Transaction": payments, "Payout": payouts}


async def test_the_fast_path_answers_exactly_as_the_stock_executor(
    twin_clients: tuple[httpx.AsyncClient, httpx.AsyncClient], db: Database, world: World
) -> None:
    fast, stock = twin_clients
    known = await _data(db, world)
    generator = Generator(seed=14)
    headers = {"Authorization": f"Bearer {world.key('a')}"}
    errors = nulls = 0
    for n in range(DOCUMENTS):
        document, variables = generator.document(known)
        if n % 17 == 0:
            variables["yes"] = "not a boolean"  # a variable error: no data at all
        body = {"query": document, "variables": variables}
        a = await fast.post("/graphql", json=body, headers=headers)
        b = await stock.post("/graphql", json=body, headers=headers)
        assert (a.status_code, a.json()) == (b.status_code, b.json()), document
        errors += "errors" in a.json()
        nulls += '":null' in a.text
    # The set exercised what it claims to: errors with paths, nulls, loaded relations.
    assert errors >= 20 and nulls >= 50, (errors, nulls)


async def test_the_fast_path_is_taken_for_plain_fields_and_loaded_relations(
    twin_clients: tuple[httpx.AsyncClient, httpx.AsyncClient], db: Database, world: World,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """Guards the test above: with the setting on, a page's plain fields and its
    by_loader relations (transaction, lastEvent) never reach graphql-core's own
    ``execute_field``; only the root field does."""
    fast, stock = twin_clients
    await _data(db, world)
    stock_fields: list[str] = []
    original = FastPathExecutionContext.execute_field

    def counting(self: Any, parent_type: Any, source: Any, details: Any, *rest: Any) -> Any:
        stock_fields.append(f"{parent_type.name}.{details[0].node.name.value}")
        return original(self, parent_type, source, details, *rest)

    monkeypatch.setattr(FastPathExecutionContext, "execute_field", counting)
    query = ("{ refundCases(first: 5) { pageInfo { hasNextPage } edges { cursor node { "
             "id caseNumber status requestedAmount { amount currency } approvedAmount { "
             "amount } transaction { id amount { amount } } lastEvent { type actor } "
             "} } } }")
    headers = {"Authorization": f"Bearer {world.key('a')}"}
    expected = (await stock.post("/graphql", json={"query": query}, headers=headers)).json()
    assert stock_fields == []  # the stock app does not use this context at all
    response = await fast.post("/graphql", json={"query": query}, headers=headers)
    assert response.json() == expected and "errors" not in expected
    assert len(expected["data"]["refundCases"]["edges"]) == 5
    assert stock_fields == ["Query.refundCases"]
