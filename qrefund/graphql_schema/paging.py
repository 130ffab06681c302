"""The shared body of a filtered list query: page size, filter, one read unit for the
page and (only when asked for) its total, domain errors as coded query errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from qrefund.graphql_schema.context import Info
from qrefund.graphql_schema.errors import query_error
from qrefund.graphql_schema.relay import Connection
from qrefund.graphql_schema.rendering import (
    Recipe,
    Rendered,
    RenderedList,
    can_render,
    compile_edges,
    compile_items,
)
from qrefund.graphql_schema.selection import wants_field
from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import DomainError
from qrefund.platform.json_render import Obj
from qrefund.platform.pagination import Page, page_size

F = TypeVar("F")
P = TypeVar("P", bound=Page[Any])


async def filtered_page(
    info: Info, first: int | None, filter_of: Callable[[], F],
    read: Callable[[UnitOfWork, F, int], Awaitable[P]],
    count: Callable[[UnitOfWork, F], Awaitable[int]],
) -> tuple[P, int | None]:
    """``read(uow, filter, size)`` the page; ``count(uow, filter)`` only when the query
    selects ``totalCount``."""
    ctx = info.context
    try:
        size = page_size(first, default=ctx.settings.default_page_size,
                         maximum=ctx.settings.max_page_size)
        flt = filter_of()
        async with ctx.reading() as uow:
            page = await read(uow, flt, size)
            total = await count(uow, flt) if wants_field(info, "totalCount") else None
    except DomainError as error:
        raise query_error(error) from None
    return page, total


async def rendered_connection(
    info: Info, recipes: Mapping[str, Recipe], first: int | None, filter_of: Callable[[], F],
    read: Callable[[UnitOfWork, F, int, Obj], Awaitable[Page[dict[str, Any]]]],
    count: Callable[[UnitOfWork, F], Awaitable[int]],
) -> Connection[Any] | None:
    """The connection with its nodes' JSON built by PostgreSQL
    (:mod:`qrefund.graphql_schema.rendering`), when every field shown below
    ``edges.node`` has one of ``recipes``; else None (the caller resolves the page
    through its types). ``read(uow, filter, size, node)`` reads the rendered page.
    PostgreSQL only, and only under the fast-path executor, which returns a
    ``Rendered`` object as it is."""
    if not can_render(info):
        return None
    node = compile_items(info, ("edges", "node"), recipes)
    if node is None:
        return None
    page, total = await filtered_page(info, first, filter_of,
                                      lambda uow, flt, size: read(uow, flt, size, node),
                                      count)
    nodes = [Rendered(n) for n in page.items]
    connection = Connection.build(page, nodes, total)
    edges = compile_edges(info)
    if edges is not None:  # the edges too, as the response shows them
        type_name, keys = edges
        fields: dict[str, list[Any]] = {"cursor": page.cursors, "node": nodes,
                                        "__typename": [type_name] * len(nodes)}
        connection.edges = RenderedList(
            Rendered({key: fields[name][i] for key, name in keys}) for i in range(len(nodes)))
    return connection
