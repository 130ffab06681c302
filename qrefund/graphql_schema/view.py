"""The HTTP/WebSocket endpoint: authenticate, then hand over to Strawberry.

Authentication happens before GraphQL runs, so a wrong, revoked or expired key
is a plain HTTP 401 with a JSON reason. A request without a key may still call
the public fields (``receipt``); any other field then answers 401.

WebSockets speak graphql-transport-ws only, through
:class:`~qrefund.graphql_schema.websocket.SocketHandler`, which keeps checking
the key of an open socket and caps its subscriptions.
"""

from __future__ import annotations

import logging
from typing import Any

import strawberry
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UNSET

from qrefund.graphql_schema.context import Context, RequestResources
from qrefund.graphql_schema.websocket import KeySlots, SocketContext, SocketHandler, redis_connector
from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from qrefund.platform.errors import Unauthenticated
from qrefund.platform.outbox.hub import Hub
from qrefund.tenants.auth import authenticate, authenticate_request, bearer_token
from qrefund.tenants.scope import TenantScope

log = logging.getLogger("qrefund.graphql")

_SCOPE_KEY = "qrefund.scope"
_RESOURCES_KEY = "qrefund.resources"


def unauthorized(reason: str) -> JSONResponse:
    body = {"errors": [{"message": reason, "extensions": {"code": "UNAUTHENTICATED"}}]}
    return JSONResponse(
        body, status_code=401, headers={"WWW-Authenticate": 'Bearer realm="qrefund"'}
    )


def unavailable() -> JSONResponse:
    body = {
        "errors": [
            {
                "message": "service temporarily unavailable",
                "extensions": {"code": "SERVICE_UNAVAILABLE"},
            }
        ]
    }
    return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})


class QrefundGraphQL(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = SocketHandler

    def __init__(self, schema: strawberry.Schema, db: Database, settings: Settings) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql",
            # Only graphql-transport-ws: the legacy graphql-ws would bypass SocketHandler.
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            # Strawberry's own cap counts every operation in flight on a socket, queries
            # too: leave room above ours, which counts subscriptions.
            max_subscriptions_per_connection=settings.ws_max_subscriptions_per_socket + 10,
        )
        self.db = db
        self.settings = settings
        # The process's one pub/sub connection (started by the first subscriber; the
        # app's lifespan closes it) and the per-key subscription count.
        self.hub = Hub(redis_connector(settings))
        self.key_slots = KeySlots(settings.ws_max_subscriptions_per_key)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        resources = RequestResources()
        caller: TenantScope | None = None
        try:
            token = bearer_token(request.headers.get("authorization"))
            if token:
                # The key's look-up unit stays open as the request's read unit.
                caller, reader = await authenticate_request(self.db, token, resources.stack)
                resources.reader = reader
        except Unauthenticated as exc:
            await resources.close()
            await unauthorized(exc.reason)(scope, receive, send)
            return
        except (OperationalError, InterfaceError, PoolTimeout) as exc:
            # The database is down or saturated: say so (503, retry later), not a bare 500.
            await resources.close()
            log.warning("authentication could not reach the database: %s", exc)
            await unavailable()(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        state[_SCOPE_KEY] = caller
        state[_RESOURCES_KEY] = resources
        try:
            await super().__call__(scope, receive, send)
        finally:
            await resources.close()

    async def _websocket_caller(self, websocket: WebSocket) -> Any:
        try:
            token = bearer_token(websocket.headers.get("authorization"))
            return await authenticate(self.db, token) if token else None
        except Unauthenticated:
            return None  # connection_init may still bring a valid key

    async def on_ws_connect(self, context: Context) -> Any:
        """graphql-transport-ws: the key comes in ``connection_init``'s payload
        (``{"Authorization": "Bearer <key>"}``) or on the upgrade request's header."""
        params = context.connection_params or {}
        header = params.get("Authorization") or params.get("authorization")
        try:
            token = bearer_token(header) if isinstance(header, str) else None
            if token is not None:
                context.scope = await authenticate(self.db, token)
        except Unauthenticated as exc:
            raise ConnectionRejectionError({"reason": exc.reason}) from None
        if context.scope is None:
            raise ConnectionRejectionError({"reason": "authentication required"})
        return UNSET

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        state = request.scope.get("state", {})
        if isinstance(request, WebSocket):
            if _SCOPE_KEY not in state:
                state[_SCOPE_KEY] = await self._websocket_caller(request)
            # The connection's context; each operation runs with a copy of its own.
            return SocketContext(
                request=request,
                response=response,
                db=self.db,
                settings=self.settings,
                scope=state.get(_SCOPE_KEY),
                resources=RequestResources(),
                hub=self.hub,
                key_slots=self.key_slots,
            )
        return Context(
            request=request,
            response=response,
            db=self.db,
            settings=self.settings,
            scope=state.get(_SCOPE_KEY),
            resources=state.get(_RESOURCES_KEY) or RequestResources(),
        )
