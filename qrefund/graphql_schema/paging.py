"""The shared body of a filtered list query: page size, filter, one read unit for the
page and (only when asked for) its total, domain errors as coded query errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from qrefund.graphql_schema.context import Info
from qrefund.graphql_schema.errors import query_error
from qrefund.graphql_schema.selection import wants_field
from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import DomainError
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
