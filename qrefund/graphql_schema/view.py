"""The HTTP/WebSocket endpoint: admit the caller, then hand over to Strawberry.

Before any GraphQL work: the rate limits (per key, per anonymous address, and for
refused keys per address) and authentication, so a wrong, revoked or expired key
is a plain HTTP 401 with a JSON reason, and a request without a key may select
only the public root fields (:mod:`qrefund.graphql_schema.gate`): anything else is
a 401 before its variables are even coerced. Media types and status codes follow
the GraphQL-over-HTTP specification (:mod:`qrefund.graphql_schema.http`).

WebSockets speak graphql-transport-ws only, through
:class:`~qrefund.graphql_schema.websocket.SocketHandler`, which keeps checking
the key of an open socket and caps its subscriptions.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
import strawberry
from cross_web import HTTPException
from graphql import GraphQLError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLRequestData
from strawberry.http.parse_content_type import parse_content_type
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET

from qrefund.graphql_schema import gate, ids
from qrefund.graphql_schema.context import Context, RequestResources
from qrefund.graphql_schema.errors import RequestError
from qrefund.graphql_schema.http import (
    JSON,
    accepts_graphql_response,
    error_response,
    is_request_error,
    media_type,
    request_error_status,
    too_many_requests,
    unauthorized,
    unavailable,
)
from qrefund.graphql_schema.known_operations import KnownOperations, execute_known
from qrefund.graphql_schema.websocket import KeySlots, SocketContext, SocketHandler, redis_connector
from qrefund.observability import context as observed
from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from qrefund.platform.errors import NotFound, Unauthenticated
from qrefund.platform.outbox import notices
from qrefund.platform.outbox.hub import Hub
from qrefund.platform.ratelimit import RateLimiter
from qrefund.platform.scope import TenantScope
from qrefund.tenants.auth import (
    authenticate,
    authenticate_request,
    bearer_token,
    known_key_id,
    parsed_key,
)
from qrefund.tenants.key_cache import KeyCache
from qrefund.tenants.revocation import AUTH_CHANNEL

log = logging.getLogger("qrefund.graphql")

_SCOPE_KEY = "qrefund.scope"
_RESOURCES_KEY = "qrefund.resources"
_DATABASE_DOWN = (OperationalError, InterfaceError, PoolTimeout)


def _http_error(exc: HTTPException, accept: str | None) -> Response:
    """Strawberry's transport refusals as JSON with the status the specification asks."""
    if isinstance(exc.__cause__, InvalidOperationTypeError):
        response = error_response(exc.reason, RequestError.METHOD_NOT_ALLOWED, 405, accept=accept)
        response.headers["Allow"] = "POST"
        return response
    if exc.reason == "Unsupported content type":
        return error_response("send the request as application/json",
                              RequestError.UNSUPPORTED_MEDIA_TYPE, 415, accept=accept)
    if exc.status_code != 400:
        return error_response(exc.reason, RequestError.BAD_REQUEST, exc.status_code,
                              accept=accept)
    return error_response(exc.reason, RequestError.BAD_REQUEST, request_error_status(accept),
                          accept=accept)


# The usual spellings of a JSON body's content type (others are parsed: _is_json).
_PLAIN_JSON = frozenset({"application/json", "application/json; charset=utf-8",
                         "application/json;charset=utf-8", "application/json; charset=UTF-8"})


def _is_json(kind: str | None) -> bool:
    """Strawberry's test for a JSON body, without its header parser for the usual
    spellings."""
    return kind in _PLAIN_JSON or "application/json" in parse_content_type(kind or "")[0]


def _is_multipart(request: Request) -> bool:
    kind = request.headers.get("content-type", "")
    return kind.lower().startswith("multipart/form-data")
# Global id types whose object a request's log lines name (case_id=, ticket_id=).
_SUBJECT_FIELDS = {"RefundCase": "case_id", "ComplaintTicket": "ticket_id"}


def _bind_subject(variables: Any) -> None:
    """The refund case or ticket a mutation's ``input.id`` (or an ``id`` variable) names,
    in the log context: cheap, best effort, never an error."""
    if not isinstance(variables, dict):
        return
    candidates = [variables.get("id")]
    for value in variables.values():
        if isinstance(value, dict):
            candidates += [value.get("id"), value.get("refundCaseId")]
    for candidate in candidates:
        if isinstance(candidate, str) and len(candidate) < 200:
            try:
                type_name, parts = ids.decode_any(candidate)
            except NotFound:
                continue
            if type_name in _SUBJECT_FIELDS and parts:
                observed.bind(**{_SUBJECT_FIELDS[type_name]: parts[-1]})


class QrefundGraphQL(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = SocketHandler

    def __init__(self, schema: strawberry.Schema, db: Database, settings: Settings,
                 limiter: RateLimiter | None = None) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.graphiql_enabled else None,
            # Only graphql-transport-ws: the legacy graphql-ws would bypass SocketHandler.
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            # Strawberry's own cap counts every operation in flight on a socket, queries
            # too: leave room above ours, which counts subscriptions.
            max_subscriptions_per_connection=settings.ws_max_subscriptions_per_socket + 10,
            # GraphQL multipart requests (importTransactions' file), for API keys only:
            # see _admit (a browser cannot add the Authorization header to a cross-site
            # form, so no cookie-style request forgery reaches an upload).
            multipart_uploads_enabled=True,
        )
        self.db = db
        self.settings = settings
        self.limiter = limiter or RateLimiter(settings)
        self.related_loaders = getattr(schema, "related_loaders", {})
        # The process's one pub/sub connection (started by the first subscriber; the
        # app's lifespan closes it) and the per-key subscription count.
        self.hub = Hub(redis_connector(settings))
        self.key_slots = KeySlots(settings.ws_max_subscriptions_per_key)
        # Checked keys, reused for seconds while this process hears revocations
        # (start_key_cache, from the application's lifespan).
        self.key_cache = KeyCache(settings.api_key_cache_seconds)
        # Operations run past Strawberry's per-request frame when the schema has nothing
        # but the operation guard (known_operations.py); None: always Strawberry's path.
        self.known_operations = KnownOperations.of(schema)
        # An HTTP streaming protocol (SSE, multipart subscriptions) configured? Then
        # Strawberry parses every body (parse_http_body).
        self.streams = any(protocol in self.stream_transport_classes_by_protocol
                           for protocol in self.protocols)

    async def start_key_cache(self) -> None:
        """Listen for revocations and tenant changes; only then are keys cached."""
        if self.key_cache.seconds <= 0:
            return
        notices.install(self.key_cache.publish)
        try:
            await self.hub.subscribe(self.key_cache.channels, self.key_cache)
        except Exception as exc:  # Redis down at start: no cache until the hub is live
            log.warning("API key cache waits for pub/sub: %s", type(exc).__name__)
        self.key_cache.listen_while(lambda: self.hub.is_live(AUTH_CHANNEL))

    def stop_key_cache(self) -> None:
        self.key_cache.listen_while(lambda: False)
        self.key_cache.clear()
        notices.uninstall(self.key_cache.publish)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        accept = request.headers.get("accept")
        resources = RequestResources()
        try:
            refusal, caller = await self._admit(request, resources)
            if refusal is None:
                if caller is not None:  # who is calling, for every log line of the request
                    observed.bind(tenant_id=caller.actor_tenant_id, key_id=caller.api_key_id)
                state: dict[str, Any] = scope.setdefault("state", {})
                state[_SCOPE_KEY] = caller
                state[_RESOURCES_KEY] = resources
                try:
                    response: Response = await self.run(request)
                except HTTPException as exc:
                    response = _http_error(exc, accept)
                except ClientDisconnect:
                    # The client went away while sending its body: nobody to answer,
                    # nothing went wrong here. One line, not a traceback.
                    log.info("client disconnected before its request was read")
                    return
            else:
                response = refusal
        finally:
            await resources.close()
        await response(scope, receive, send)

    async def _admit(
        self, request: Request, resources: RequestResources
    ) -> tuple[Response | None, TenantScope | None]:
        """Authenticate and apply the rate limits: (a refusal, None) or (None, caller)."""
        accept = request.headers.get("accept")
        address = request.client.host if request.client else "unknown"
        try:
            token = bearer_token(request.headers.get("authorization"))
            if token is None and _is_multipart(request):
                return unauthorized("uploads need an API key", accept), None
            if token is None:
                verdict = await self.limiter.anonymous_request(address)
                if not verdict.allowed:
                    return too_many_requests(verdict.retry_after, accept), None
                return None, None
            parsed = parsed_key(token)  # None when malformed: the look-up says why
            known = known_key_id(parsed, self.key_cache)
            if known is not None:  # both budgets in one round trip (ratelimit.py)
                verdict = await self.limiter.known_key_request(address, str(known))
                if not verdict.allowed:
                    return too_many_requests(verdict.retry_after, accept), None
            else:
                blocked = await self.limiter.auth_blocked(address)
                if not blocked.allowed:
                    return too_many_requests(blocked.retry_after, accept), None
            # The key's look-up unit stays open as the request's read unit (a cached key
            # has none: the request opens one when it first reads).
            caller, reader, reader_stack = await authenticate_request(
                self.db, token, resources.stack, self.key_cache, parsed)
            if reader is not None and reader_stack is not None:
                resources.adopt_reader(reader, reader_stack)
        except Unauthenticated as exc:
            await self.limiter.auth_failed(address)
            return unauthorized(exc.reason, accept), None
        except _DATABASE_DOWN as exc:
            # The database is down or saturated: say so (503, retry later), not a bare 500.
            log.warning("authentication could not reach the database: %s", type(exc).__name__)
            return unavailable(accept), None
        if known is None:  # else counted by known_key_request
            verdict = await self.limiter.key_request(str(caller.api_key_id))
            if not verdict.allowed:
                return too_many_requests(verdict.retry_after, accept), None
        return None, caller

    async def execute_single(
        self, request: Request, request_adapter: Any, sub_response: Response,
        context: Context, root_value: None, request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        accept = request.headers.get("accept")
        sub_response.headers["content-type"] = media_type(accept)
        if not isinstance(request_data.operation_name, str | None):
            raise HTTPException(400, "operationName must be a string or null")
        observed.note_operation(request_data.operation_name
                                or observed.operation_in(request_data.query))
        _bind_subject(request_data.variables)
        if context.scope is None:
            refusal = gate.anonymous_refusal(
                request_data.query, request_data.operation_name,
                max_tokens=self.settings.max_query_tokens,
                introspection=self.settings.introspection_mode == "public")
            if refusal is not None:
                sub_response.status_code = 401
                sub_response.headers["WWW-Authenticate"] = 'Bearer realm="qrefund"'
                error = GraphQLError(refusal, extensions={"code": RequestError.UNAUTHENTICATED})
                return ExecutionResult(data=None, errors=[error])
        if gate.is_subscription(request_data.query, request_data.operation_name,
                                max_tokens=self.settings.max_query_tokens):
            error = GraphQLError("subscriptions run over WebSocket (graphql-transport-ws)",
                                 extensions={"code": RequestError.WEBSOCKET_REQUIRED})
            result = ExecutionResult(data=None, errors=[error])
        else:
            known = None
            if self.known_operations is not None:  # a known-good document: no frame
                known = await execute_known(
                    self.known_operations, query=request_data.query,
                    variables=request_data.variables,
                    operation_name=request_data.operation_name,
                    extensions=request_data.extensions, context=context,
                    root_value=root_value, allowed=self._allowed(request_adapter.method))
            result = known or await super().execute_single(
                request, request_adapter, sub_response, context, root_value, request_data)
        if result.errors:
            observed.note_graphql_errors()
        if is_request_error(result.data, result.errors) and sub_response.status_code is None:
            sub_response.status_code = request_error_status(accept)
        return result

    async def parse_http_body(self, request: Any) -> Any:
        """A POST with a JSON body read here; anything else by Strawberry's parsing.

        Strawberry's parsing reads the content type with the ``email`` package's header
        parser and looks through every header for a streaming transport (none is
        configured here): a tenth of a small query's CPU. A JSON object with the
        expected types (``query`` a string or null, ``variables`` and ``extensions``
        objects or null) gives the request data Strawberry's would; a batch or a wrong
        type goes to Strawberry's parsing (the body is read once: Starlette keeps it),
        which answers its errors. A body that is JSON but neither an object nor a batch
        is refused here with a 400 (Strawberry's parsing fails on it with a 500)."""
        if request.method != "POST" or self.streams or not _is_json(request.content_type):
            return await super().parse_http_body(request)
        data = self.parse_json(await request.get_body())
        if (type(data) is dict and isinstance(data.get("query"), str | None)
                and isinstance(data.get("variables"), dict | None)
                and isinstance(data.get("extensions"), dict | None)):
            return GraphQLRequestData(
                query=data.get("query"), variables=data.get("variables"),
                operation_name=data.get("operationName"),
                extensions=data.get("extensions"), protocol="http")
        if not isinstance(data, dict | list):
            raise HTTPException(400, "the request body must be a JSON object")
        return await super().parse_http_body(request)

    def decode_json(self, data: str | bytes) -> object:
        """orjson, and the standard parser for what orjson refuses (integers beyond 64
        bits, lone surrogates, UTF-16 bodies, NaN): the same values, the same errors."""
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            return super().decode_json(data)

    def _allowed(self, method: Any) -> set[OperationType]:
        """The operation types Strawberry's view allows over ``method``."""
        allowed = OperationType.from_http(method)
        if not self.allow_queries_via_get and method == "GET":
            allowed = allowed - {OperationType.QUERY}
        return allowed

    async def process_result(self, request: Request, result: ExecutionResult) -> Any:
        body = await super().process_result(request, result)
        if (accepts_graphql_response(request.headers.get("accept"))
                and is_request_error(result.data, result.errors)):
            body.pop("data", None)  # a request error has no data entry at all
        return body

    def encode_json(self, data: object) -> str | bytes:
        """orjson (several times faster on a 50-row page); the standard encoder for what
        orjson refuses (integers beyond 64 bits in a JSON scalar, non-string keys)."""
        try:
            return orjson.dumps(data)
        except TypeError:
            return super().encode_json(data)

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        kind = sub_response.headers.get("content-type", JSON)
        del sub_response.headers["content-type"]
        response = Response(self.encode_json(response_data), status_code=200, media_type=kind)
        response.headers.raw.extend(sub_response.headers.raw)
        if sub_response.status_code:
            response.status_code = sub_response.status_code
        return response

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
        client = getattr(context.request, "client", None)
        address = client.host if client else "unknown"
        # Refused keys count against the address here too (guessing keys over sockets).
        blocked = await self.limiter.auth_blocked(address)
        if not blocked.allowed:
            raise ConnectionRejectionError({"reason": "too many refused keys: retry in "
                                                      f"{blocked.retry_after} s"})
        try:
            token = bearer_token(header) if isinstance(header, str) else None
            if token is not None:
                context.scope = await authenticate(self.db, token)
        except Unauthenticated as exc:
            await self.limiter.auth_failed(address)
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
                related_loaders=self.related_loaders,
            )
        resources = state.get(_RESOURCES_KEY) or RequestResources()
        context = Context(
            request=request,
            response=response,
            db=self.db,
            settings=self.settings,
            scope=state.get(_SCOPE_KEY),
            resources=resources,
            related_loaders=self.related_loaders,
            limiter=self.limiter,
        )
        # A loader's function holds the context that holds the loader: without this the
        # request's whole object graph (loaders, their futures, every row and type they
        # resolved) would wait for the cyclic GC instead of going when the request ends.
        resources.stack.callback(context.loaders.clear)
        return context
