"""The per-request GraphQL context: caller's scope, a lazy read unit, loaders."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response
from strawberry.types import Info as StrawberryInfo

from qrefund.graphql_schema.errors import ExpectedGraphQLError, RequestError, UserError
from qrefund.platform.config import Settings
from qrefund.platform.db import Database, UnitOfWork
from qrefund.platform.errors import DomainError
from qrefund.platform.ratelimit import RateLimiter
from qrefund.platform.scope import TenantScope

P = TypeVar("P")


class RequestResources:
    """Things opened during one request and closed after the response is built."""

    def __init__(self) -> None:
        self.stack = AsyncExitStack()
        # The request's read-only unit (first the key look-up's), in a stack of its own
        # so that it can be released before the request writes.
        self.reader: UnitOfWork | None = None
        self._reader_stack: AsyncExitStack | None = None

    def adopt_reader(self, reader: UnitOfWork, reader_stack: AsyncExitStack) -> None:
        self.reader, self._reader_stack = reader, reader_stack

    async def open_reader(self, db: Database, scope: TenantScope, *,
                          generic_plans: bool = False) -> UnitOfWork:
        reader_stack = await self.stack.enter_async_context(AsyncExitStack())
        unit = await reader_stack.enter_async_context(
            db.unit_of_work(scope, readonly=True, generic_plans=generic_plans))
        self.adopt_reader(unit, reader_stack)
        return unit

    async def release_reader(self) -> None:
        """Give the read unit's connection back (a later read opens a new unit)."""
        if self._reader_stack is not None:
            reader_stack, self._reader_stack, self.reader = self._reader_stack, None, None
            await reader_stack.aclose()

    async def close(self) -> None:
        await self.stack.aclose()


@dataclass
class Context:
    request: Request | Any
    response: Response | Any
    db: Database
    settings: Settings
    scope: TenantScope | None
    resources: RequestResources
    loaders: dict[str, Any] = field(default_factory=dict)
    # Set by graphql-transport-ws from the connection_init payload.
    connection_params: dict[str, Any] | None = None
    # Loaders one GraphQL package offers another that may not import it (schema.py).
    related_loaders: Mapping[str, Callable[[Context], Any]] = field(default_factory=dict)
    # Set by a subscription for its operation: what it pushes never carries internal
    # complaint notes, whatever the caller's role (a staff view re-reads the ticket).
    withhold_internal_notes: bool = False
    # The process's rate limiter (public consumer fields count their own budgets).
    limiter: RateLimiter | None = None
    _read_uow: UnitOfWork | None = None
    _read_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def require_scope(self) -> TenantScope:
        if self.scope is None:
            if self.response is not None and hasattr(self.response, "status_code"):
                self.response.status_code = 401
                # RFC 9110: a 401 names the scheme it wants, like the view's own 401s.
                self.response.headers["WWW-Authenticate"] = 'Bearer realm="qrefund"'
            raise ExpectedGraphQLError(
                "authentication required: send 'Authorization: Bearer <api key>'",
                extensions={"code": RequestError.UNAUTHENTICATED},
            )
        return self.scope

    @asynccontextmanager
    async def reading(self, *, generic_plans: bool = True) -> AsyncIterator[UnitOfWork]:
        """The request's one read-only unit, held exclusively for the block.

        Sibling resolvers run concurrently but a database session cannot, so
        each resolver or loader takes the unit in turn. Do not await a loader
        inside the block (it would wait for the same lock).

        The unit runs prepared statements on generic plans (``Database.unit_of_work``):
        the API's reads are pages and nodes. A resolver whose statements are planned
        best for their values (analytics over a date range) asks ``generic_plans=False``
        and the unit switches for it (a round trip, only when it changes).
        """
        scope = self.require_scope()
        async with self._read_lock:
            if self._read_uow is None:
                reader = self.resources.reader
                if reader is None:
                    reader = await self.resources.open_reader(self.db, scope,
                                                              generic_plans=generic_plans)
                assert reader.scope is scope
                self._read_uow = reader
            await self._read_uow.plan_generically(generic_plans)
            yield self._read_uow

    async def release_reading(self) -> None:
        """Give the request's read unit back before opening a unit of another scope (a
        request never holds two pooled connections at once; see :meth:`write`)."""
        async with self._read_lock:
            self._read_uow = None
            await self.resources.release_reader()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[UnitOfWork]:
        """A write unit; the request's read unit is released first (one connection at
        a time per request, so concurrent writers cannot deadlock the pool)."""
        scope = self.require_scope()
        async with self._read_lock:
            self._read_uow = None
            await self.resources.release_reader()
        async with self.db.unit_of_work(scope) as uow:
            yield uow

    def related(self, name: str) -> Any:
        """The loader ``name`` from the wiring in ``schema.py`` (RELATED_LOADERS)."""
        return self.related_loaders[name](self)

    def loader(self, name: str, factory: Callable[[Context], Any]) -> Any:
        if name not in self.loaders:
            self.loaders[name] = factory(self)
        return self.loaders[name]

    async def mutate(
        self, work: Callable[[UnitOfWork], Awaitable[P]], on_error: Callable[[list[UserError]], P]
    ) -> P:
        """One unit of work per mutation; a DomainError rolls back and becomes userErrors."""
        try:
            async with self.write() as uow:
                return await work(uow)
        except DomainError as error:
            return on_error([UserError.of(error)])


Info = StrawberryInfo[Context, None]


@asynccontextmanager
async def request_resources() -> AsyncIterator[RequestResources]:
    resources = RequestResources()
    try:
        yield resources
    finally:
        await resources.close()
