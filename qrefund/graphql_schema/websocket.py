"""graphql-transport-ws sockets that stay honest about their key, with subscription caps.

A socket signs in once (``connection_init``, see the view), but it may stay open
for hours, so:

* every ``subscribe`` message (query, mutation or subscription) checks the key
  again before it runs (:func:`qrefund.tenants.auth.check_key`: one look-up);
* each socket watches its key: it closes at once when a revocation notice for it
  arrives on ``qrefund:auth`` (through the process's pub/sub hub), and re-checks
  every ``QREFUND_WS_REAUTH_SECONDS`` and at the key's ``expires_at`` (expiry and a
  suspended tenant send no notice);
* a dead key closes the socket with code 4403 and the reason (revoked, expired,
  tenant not active), after stopping its running operations;
* subscriptions are capped per socket and per key in this process; the one over
  the cap gets an ``error`` with code ``TOO_MANY_SUBSCRIPTIONS`` and the socket
  stays open;
* each operation runs with a context of its own (its own read unit, closed when it
  ends), not the connection's.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from graphql import GraphQLError, OperationType, get_operation_ast, parse
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
    _OperationStreamClosed,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ErrorMessage,
    SubscribeMessage,
)
from strawberry.utils.aio import aclosing

from qrefund.graphql_schema.context import Context, RequestResources
from qrefund.graphql_schema.errors import RequestError
from qrefund.observability import metrics
from qrefund.platform.clock import utcnow
from qrefund.platform.config import Settings
from qrefund.platform.errors import Unauthenticated
from qrefund.platform.outbox.hub import Connect, Hub
from qrefund.platform.scope import TenantScope
from qrefund.tenants.auth import check_key
from qrefund.tenants.revocation import AUTH_CHANNEL, revoked_key

log = logging.getLogger("qrefund.graphql.ws")

CLOSE_FORBIDDEN = 4403
_DATABASE_DOWN = (OperationalError, InterfaceError, PoolTimeout)


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


class KeySlots:
    """Subscriptions running per API key in this process, against the per-key cap."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._held: Counter[uuid.UUID] = Counter()

    def take(self, key_id: uuid.UUID) -> bool:
        if self._held[key_id] >= self.limit:
            return False
        self._held[key_id] += 1
        metrics.SUBSCRIPTIONS.inc()
        return True

    def give_back(self, key_id: uuid.UUID) -> None:
        self._held[key_id] -= 1
        metrics.SUBSCRIPTIONS.dec()
        if self._held[key_id] <= 0:
            del self._held[key_id]


@dataclass(kw_only=True)
class SocketContext(Context):
    """The context of a WebSocket: the connection's, and one per operation on it."""

    hub: Hub
    key_slots: KeySlots

    def for_operation(self) -> SocketContext:
        return SocketContext(
            request=self.request, response=self.response, db=self.db, settings=self.settings,
            scope=self.scope, resources=RequestResources(),
            connection_params=self.connection_params, hub=self.hub, key_slots=self.key_slots,
        )

    async def end_reads(self) -> None:
        """Close the read unit and forget loaded rows: a subscription reads each update
        afresh and holds no database connection while it waits for the next."""
        await self.resources.close()
        self.resources = RequestResources()
        self._read_uow = None
        self.loaders.clear()


def _is_subscription(message: SubscribeMessage, max_tokens: int) -> bool:
    payload: Any = message.get("payload")
    query = payload.get("query") if isinstance(payload, dict) else None
    name = payload.get("operationName") if isinstance(payload, dict) else None
    if not isinstance(query, str):
        return False
    return _subscribes(query, name if isinstance(name, str) else None, max_tokens)


@lru_cache(maxsize=256)
def _subscribes(query: str, operation_name: str | None, max_tokens: int) -> bool:
    try:
        document = parse(query, max_tokens=max_tokens)
    except GraphQLError:
        return False  # Strawberry answers the syntax error
    operation = get_operation_ast(document, operation_name)
    return operation is not None and operation.operation == OperationType.SUBSCRIPTION


class SocketHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """Strawberry's graphql-transport-ws handler with the checks above (module doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._watch: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._revoked = False
        self._closing = False
        self._expires_at: datetime | None = None
        self._subscriptions = 0
        # op id -> the token of the slot its running subscription holds (an id may be
        # used again once its operation completed; the token tells the holds apart).
        self._slot_of: dict[str, object] = {}

    @property
    def _ctx(self) -> SocketContext:
        assert isinstance(self.context, SocketContext)
        return self.context

    @property
    def _scope(self) -> TenantScope:
        assert self._ctx.scope is not None  # set before the connection is acknowledged
        return self._ctx.scope

    # -- protocol messages ------------------------------------------------------

    async def handle_connection_init(self, message: Any) -> None:
        await super().handle_connection_init(message)
        if self.connection_acknowledged and self._watch is None:
            self._watch = asyncio.create_task(self._watch_key(), name="qrefund-ws-key-watch")

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if self._closing:
            return
        op_id = message["id"]
        if not self.connection_acknowledged or op_id in self.operations:
            await super().handle_subscribe(message)  # Strawberry closes the socket
            return
        if not await self._key_still_good(op_id) or self._closing:
            return
        slot = _is_subscription(message, self._ctx.settings.max_query_tokens)
        if slot:
            refusal = self._take_slot()
            if refusal is not None:
                await self._send_error(op_id, refusal, RequestError.TOO_MANY_SUBSCRIPTIONS)
                return
        try:
            await super().handle_subscribe(message)
        finally:
            if slot:
                self._hold_slot(op_id)

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

    async def _send_error(self, op_id: str, message: str, code: RequestError) -> None:
        """Refuse one operation; the socket stays open."""
        error = GraphQLError(message, extensions={"code": code})
        await self.send_message(ErrorMessage(id=op_id, type="error", payload=[error.formatted]))

    async def shutdown(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await self._watch
        await super().shutdown()

    # -- the key ----------------------------------------------------------------

    async def _key_still_good(self, op_id: str) -> bool:
        try:
            self._expires_at = await check_key(self._ctx.db, self._scope)
        except Unauthenticated as exc:
            await self._refuse(exc.reason)
            return False
        except _DATABASE_DOWN as exc:
            log.warning("WebSocket key check could not reach the database: %s", exc)
            await self._send_error(op_id, "service temporarily unavailable",
                                   RequestError.SERVICE_UNAVAILABLE)
            return False
        return True

    async def _watch_key(self) -> None:
        """Close the socket when its key dies: at a revocation notice, or when a check
        every ``ws_reauth_seconds`` (and at ``expires_at``) finds it dead."""
        hub = self._ctx.hub
        # Listen before the first check: a revocation is then either seen by the check
        # or heard as a notice.
        try:
            await hub.subscribe([AUTH_CHANNEL], self)
        except RuntimeError:  # the hub is closed: the server is shutting down
            return
        try:
            while not self._closing:
                if self._revoked:
                    await self._refuse("API key has been revoked")
                    return
                try:
                    self._expires_at = await check_key(self._ctx.db, self._scope)
                except Unauthenticated as exc:
                    await self._refuse(exc.reason)
                    return
                except _DATABASE_DOWN as exc:  # keep the socket; try again next time
                    log.warning("WebSocket key check could not reach the database: %s", exc)
                except Exception:  # a bug: say so, and keep watching
                    log.exception("WebSocket key check failed")
                await self._sleep(self._next_check())
        finally:
            await hub.unsubscribe([AUTH_CHANNEL], self)

    def _next_check(self) -> float:
        wait = self._ctx.settings.ws_reauth_seconds
        if self._expires_at is not None:
            # A little after expiry, so the check finds the key expired.
            wait = min(wait, max(0.0, (self._expires_at - utcnow()).total_seconds()) + 0.05)
        return wait

    async def _sleep(self, seconds: float) -> None:
        with suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()

    def deliver(self, channel: str, data: bytes) -> None:
        """Hub listener: a revocation notice (for any key; this socket's is acted on)."""
        if revoked_key(data) == self._scope.api_key_id:
            self._revoked = True
            self._wake.set()

    def lost(self, channel: str) -> None:
        """Hub listener: notices may have been missed, so check the key now."""
        self._wake.set()

    async def _refuse(self, reason: str) -> None:
        """Stop this socket's operations, then close it with 4403 and the reason."""
        if self._closing:
            return
        self._closing = True
        log.info("closing WebSocket of API key %s: %s", self._scope.api_key_id, reason)
        for op_id in list(self.operations):
            await self.cleanup_operation(op_id)
        with suppress(Exception):  # the client may be gone already
            await self.websocket.close(code=CLOSE_FORBIDDEN, reason=reason)

    # -- subscription caps ------------------------------------------------------

    def _take_slot(self) -> str | None:
        """Count one more subscription, or say which cap it would break."""
        settings = self._ctx.settings
        if self._subscriptions >= settings.ws_max_subscriptions_per_socket:
            return (f"too many subscriptions: at most "
                    f"{settings.ws_max_subscriptions_per_socket} per connection")
        key_id = self._scope.api_key_id
        assert key_id is not None
        if not self._ctx.key_slots.take(key_id):
            return (f"too many subscriptions: at most "
                    f"{settings.ws_max_subscriptions_per_key} per API key")
        self._subscriptions += 1
        return None

    def _hold_slot(self, op_id: str) -> None:
        """Give the slot back when the operation's task ends (now if it never started),
        or when the client completes it, whichever comes first."""
        operation = self.operations.get(op_id)
        if operation is None or operation.task is None or operation.task.done():
            self._give_back_slot()
            return
        token = self._slot_of[op_id] = object()
        operation.task.add_done_callback(lambda _task: self._release_slot(op_id, token))

    def _release_slot(self, op_id: str, token: object) -> None:
        if self._slot_of.get(op_id) is token:
            del self._slot_of[op_id]
            self._give_back_slot()

    async def cleanup_operation(self, operation_id: str) -> None:
        """The client completed the operation (or the socket is closing): its slot is
        free at once, not when its cancelled task has finished unwinding, so that a
        subscription started right after the ``complete`` finds it."""
        token = self._slot_of.get(operation_id)
        if token is not None:
            self._release_slot(operation_id, token)
        await super().cleanup_operation(operation_id)

    def _give_back_slot(self) -> None:
        self._subscriptions -= 1
        key_id = self._scope.api_key_id
        assert key_id is not None
        self._ctx.key_slots.give_back(key_id)
