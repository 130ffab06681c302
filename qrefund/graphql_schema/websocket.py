"""graphql-transport-ws sockets: the pub/sub hub's Redis clients, contexts, the handler.

A socket may stay open for hours and run many operations, so each operation
runs with a context of its own (its own read unit, closed when it ends), not the
connection's; a subscription also lets go of its reads after every update.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
    _OperationStreamClosed,
)
from strawberry.utils.aio import aclosing

from qrefund.graphql_schema.context import Context, RequestResources
from qrefund.platform.config import Settings
from qrefund.platform.outbox.hub import Connect, Hub


def redis_connector(settings: Settings) -> Connect:
    """Asyncio Redis clients for the hub: ``QREFUND_REDIS_URL``'s server, or the embedded
    runtime's in-process one (which the relay publishes on when no URL is set)."""
    from qrefund.jobs import runtime

    url = settings.redis_url
    if url:
        from redis.asyncio import Redis

        def connect(name: str) -> Any:
            return Redis.from_url(
                url, client_name=name, socket_keepalive=True,
                socket_connect_timeout=runtime.REDIS_CONNECT_TIMEOUT,
                socket_timeout=runtime.REDIS_SOCKET_TIMEOUT,
            )

        return connect

    def embedded(name: str) -> Any:
        import fakeredis

        return fakeredis.FakeAsyncRedis(server=runtime.embedded_server(), client_name=name)

    return embedded


@dataclass(kw_only=True)
class SocketContext(Context):
    """The context of a WebSocket: the connection's, and one per operation on it."""

    hub: Hub

    def for_operation(self) -> SocketContext:
        return SocketContext(
            request=self.request, response=self.response, db=self.db, settings=self.settings,
            scope=self.scope, resources=RequestResources(),
            connection_params=self.connection_params, hub=self.hub,
        )

    async def end_reads(self) -> None:
        """Close the read unit and forget loaded rows: a subscription reads each update
        afresh and holds no database connection while it waits for the next."""
        await self.resources.close()
        self.resources = RequestResources()
        self._read_uow = None
        self.loaders.clear()


class SocketHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """Strawberry's graphql-transport-ws handler, with a context per operation."""

    @property
    def _ctx(self) -> SocketContext:
        assert isinstance(self.context, SocketContext)
        return self.context

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        """Strawberry 0.341's ``run_operation``, with a context of the operation's own."""
        context = self._ctx.for_operation()
        try:
            result_source = await self.schema.stream(
                operation.query,
                variable_values=operation.variables,
                context_value=context,
                root_value=self.root_value,
                operation_name=operation.operation_name,
            )
            async with aclosing(result_source):
                await self._send_result_stream(operation, result_source)
            await operation.send_operation_message({"id": operation.id, "type": "complete"})
        except _OperationStreamClosed:
            return
        except Exception as error:
            await self.handle_task_exception(error)
            with suppress(Exception):
                await operation.send_operation_message({"id": operation.id, "type": "complete"})
            self.operations.pop(operation.id, None)
            raise
        finally:
            await context.resources.close()
