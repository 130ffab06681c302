"""The fast path's error handling equals graphql-core's, on values real data never has.

A small Strawberry schema whose plain fields and by_loader relations hold every kind of
bad value: ``None`` in non-null fields and list items, an exception or an awaitable as
a field's value, a scalar that does not coerce, a loader that fails for one key or
answers ``None`` for a non-null relation. Each document runs through the fast execution
context and the stock one; data, errors, their messages, paths and locations must be
equal, in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
import strawberry
from strawberry.dataloader import DataLoader

from qrefund.graphql_schema.execution import FastPathExecutionContext
from qrefund.graphql_schema.loaders import by_loader


@strawberry.type
class Leaf:
    name: str
    note: str | None
    count: int


def _loader(ctx: dict[str, Any]) -> DataLoader[int, Any]:
    loader: DataLoader[int, Any] = ctx["loader"]
    return loader


@strawberry.type
class Holder:
    key: strawberry.Private[int]
    leaf: Leaf
    maybe: Leaf | None
    items: list[Leaf]
    loose: list[Leaf | None] | None

    @strawberry.field
    @by_loader(_loader, lambda holder: holder.key)
    def related(self, info: strawberry.Info) -> Leaf:
        raise NotImplementedError

    @strawberry.field
    @by_loader(_loader, lambda holder: -holder.key)
    def maybe_related(self, info: strawberry.Info) -> Leaf | None:
        raise NotImplementedError


@strawberry.type
class Edge:
    node: Holder


def ok(n: int) -> Leaf:
    return Leaf(name=f"leaf {n}", note=None if n % 2 else "note", count=n)


def bad_leaf(kind: str) -> Any:
    if kind == "null name":
        return Leaf(name=None, note="x", count=1)  # type: ignore[arg-type]
    if kind == "error note":
        return Leaf(name="n", note=ValueError("note failed"), count=1)  # type: ignore[arg-type]
    if kind == "bad count":
        return Leaf(name="n", note=None, count="many")  # type: ignore[arg-type]
    return ok(7)


def _later(value: Any) -> Any:
    """An awaitable as a plain field's value (a settled future: awaiting it is optional)."""
    future = asyncio.get_running_loop().create_future()
    future.set_result(value)
    return future


def holders(scenario: str) -> list[Holder]:
    """Three holders; the second carries the scenario's bad value."""
    out = []
    for key in (1, 2, 3):
        bad = key == 2
        leaf: Any = ok(key)
        maybe: Any = ok(key + 10)
        items: Any = [ok(key), ok(key + 1)]
        loose: Any = [ok(key), None]
        if bad and scenario in {"null name", "error note", "bad count"}:
            leaf = bad_leaf(scenario)
            items = [ok(1), bad_leaf(scenario)]
            loose = [bad_leaf(scenario), None]
        elif bad and scenario == "null object":
            leaf, maybe = None, None
        elif bad and scenario == "null item":
            items, loose = [ok(1), None], None
        elif bad and scenario == "error object":
            maybe, leaf = RuntimeError("maybe failed"), RuntimeError("leaf failed")
        elif bad and scenario == "awaitable object":
            maybe = _later(ok(99))
        elif bad and scenario == "not a list":
            items = ok(5)
        out.append(Holder(key=key, leaf=leaf, maybe=maybe, items=items, loose=loose))
    return out


@strawberry.type
class Query:
    @strawberry.field
    def edges(self, scenario: str) -> list[Edge]:
        return [Edge(node=h) for h in holders(scenario)]


def _load_fn(scenario: str) -> Any:
    async def load(keys: Sequence[int]) -> list[Any]:
        if scenario == "loader fails":
            raise RuntimeError("the loader failed")
        values: list[Any] = []
        for key in keys:
            if scenario == "loader null" and key == 2:
                values.append(None)
            elif scenario == "loader error" and key == 2:
                values.append(KeyError("no such key"))
            elif key < 0:
                values.append(None if key == -3 else ok(-key + 20))
            elif scenario == "loader bad leaf" and key == 2:
                values.append(bad_leaf("null name"))
            else:
                values.append(ok(key + 30))
        return values

    return load


SCENARIOS = ["fine", "null name", "error note", "bad count", "null object", "null item",
             "error object", "awaitable object", "not a list", "loader fails", "loader null",
             "loader error", "loader bad leaf"]
DOCUMENTS = [
    "{ edges(scenario: $s) { node { leaf { name note count } maybe { name } } } }",
    "{ edges(scenario: $s) { node { items { name count } loose { name note } } } }",
    "{ edges(scenario: $s) { node { related { name note count } maybeRelated { name } "
    "leaf { name } } } }",
    "{ edges(scenario: $s) { node { a: related { name } b: related { count } "
    "items { name } } } }",
    "{ edges(scenario: $s) { node { ... on Holder { related { ...L } } loose { ...L } } } } "
    "fragment L on Leaf { name note count __typename }",
]

fast_schema = strawberry.Schema(Query, execution_context_class=FastPathExecutionContext)
stock_schema = strawberry.Schema(Query)


async def _run(schema: strawberry.Schema, document: str, scenario: str) -> Any:
    query = "query Q($s: String!) " + document
    context = {"loader": DataLoader(load_fn=_load_fn(scenario))}
    result = await schema.execute(query, variable_values={"s": scenario},
                                  context_value=context)
    errors = [(e.message, e.path, [(loc.line, loc.column) for loc in e.locations or []])
              for e in result.errors or []]
    return result.data, errors


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_bad_values_give_the_same_response_on_both_paths(scenario: str) -> None:
    for document in DOCUMENTS:
        fast = await _run(fast_schema, document, scenario)
        stock = await _run(stock_schema, document, scenario)
        assert fast == stock, (scenario, document)


async def test_the_scenarios_do_produce_errors() -> None:
    """Guards the test above: most scenarios end in errors, some in nulled parents."""
    erring = 0
    for scenario in SCENARIOS:
        _, errors = await _run(fast_schema, DOCUMENTS[0], scenario)
        _, errors2 = await _run(fast_schema, DOCUMENTS[2], scenario)
        erring += bool(errors or errors2)
    assert erring >= 8
