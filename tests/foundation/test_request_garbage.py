"""A request's objects go when it ends, not at the cyclic GC's next walk.

A loader's function holds the context that holds the loader, and graphql-core's
execution context holds bound methods of itself: a request whose loaded rows and
GraphQL objects hang off either cycle leaves them all to the cyclic collector, whose
walks cost a page more CPU than building them did. The view lets the loaders go, and
the fast path drops its per-request caches and breaks graphql-core's cycle at the end
(``FastPathExecutionContext.build_response``); this keeps it so.
"""

from __future__ import annotations

import gc
from collections import Counter
from typing import Any

import httpx
from strawberry.dataloader import DataLoader, LoaderTask

from qrefund.platform.db import Database
from tests.support.graphql import ok
from tests.support.refund_cases import payments_with_cases
from tests.support.world import World

PAGE = """query { refundCases(first: 10) { edges { node { id caseNumber
  requestedAmount { amount currency }
  transaction { id merchantOrderNo amount { amount currency } }
  lastEvent { type occurredAt } } } } }"""


# The request's own objects: its context and resources, Starlette's request and
# response, graphql-core's execution context and what hangs off it.
_REQUEST_MODULES = ("qrefund.graphql_schema.", "starlette.", "graphql.execution.")


def _request_objects(garbage: list[object]) -> Counter[str]:
    """The request's own objects among what only the cyclic collector could free."""
    return Counter(f"{type(obj).__module__}.{type(obj).__qualname__}" for obj in garbage
                   if type(obj).__module__.startswith(_REQUEST_MODULES))


async def _garbage_of(client: httpx.AsyncClient, query: str, key: str
                      ) -> tuple[Any, list[object]]:
    """One request's data (after a warm-up) and what it left to the cyclic collector."""
    await ok(client, query, key=key)  # warm-up: caches, pool
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        data = await ok(client, query, key=key)
        gc.collect()
        return data, list(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


def _loaded_objects(garbage: list[object]) -> Counter[str]:
    """What a request loaded and built (loaders, their tasks, rows, GraphQL objects)
    among what only the cyclic collector could free."""
    found: Counter[str] = Counter()
    for obj in garbage:
        kind = type(obj)
        if (isinstance(obj, DataLoader | LoaderTask)
                or hasattr(kind, "__strawberry_definition__")
                or kind.__module__ == "qrefund.platform.read_views"):
            found[f"{kind.__module__}.{kind.__qualname__}"] += 1
    return found


async def test_a_page_with_loaded_relations_leaves_no_cyclic_garbage(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    await payments_with_cases(db, world, 6, prefix="G")
    data, garbage = await _garbage_of(client, PAGE, world.key("a"))
    assert len(data["refundCases"]["edges"]) == 6
    assert data["refundCases"]["edges"][0]["node"]["transaction"]["id"]
    left = _loaded_objects(garbage)
    assert not left, left


async def test_a_request_leaves_none_of_its_own_objects_to_the_collector(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    """graphql-core's async helpers hold bound methods of the execution context that
    holds them; unbroken, that cycle kept every request's context, Starlette request
    and response for the cyclic GC (about 50 objects a request, young collections of
    milliseconds: the tail of small requests)."""
    await payments_with_cases(db, world, 3, prefix="H")
    for query in ("query { __typename }", PAGE):
        _data, garbage = await _garbage_of(client, query, world.key("a"))
        left = _request_objects(garbage)
        assert not left, (query, left)
