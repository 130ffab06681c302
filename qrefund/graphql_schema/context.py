"""The per-request GraphQL context: caller's scope, a lazy read unit, loaders."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response
from strawberry.types import Info as StrawberryInfo

from qrefund.graphql_schema.errors import ExpectedGraphQLError, UserError
from qrefund.platform.config import Settings
from qrefund.platform.db import Database, UnitOfWork
from qrefund.platform.errors import DomainError
from qrefund.tenants.scope import TenantScope

P = TypeVar("P")


class RequestResources:
    """Things opened during one request and closed after the response is built."""

    def __init__(self) -> None:
        self.stack = AsyncExitStack()
        # The authenticated caller's read-only unit, opened by the key look-up.
        self.reader: UnitOfWork | None = None

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
                extensions={"code": "UNAUTHENTICATED"},
            )
        return self.scope

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[UnitOfWork]:
        """The request's one read-only unit, held exclusively for the block.

        Sibling resolvers run concurrently but a database session cannot, so
        each resolver or loader takes the unit in turn. Do not await a loader
        inside the block (it would wait for the same lock).
        """
        scope = self.require_scope()
        async with self._read_lock:
            if self._read_uow is None and self.resources.reader is not None:
                assert self.resources.reader.scope is scope
                self._read_uow = self.resources.reader
            if self._read_uow is None:
                self._read_uow = await self.resources.stack.enter_async_context(
                    self.db.unit_of_work(scope, readonly=True)
                )
            yield self._read_uow

    def write(self) -> AbstractAsyncContextManager[UnitOfWork]:
        return self.db.unit_of_work(self.require_scope())

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
