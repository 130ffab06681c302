"""The request middleware: request id, log context, request metrics.

Outermost ASGI layer. For every HTTP request and WebSocket it takes the
``X-Request-Id`` header when it is well formed (8 to 128 characters of
``A-Za-z0-9._:/+=-``; anything else is replaced by a fresh id, so a client
cannot inject text into logs), binds it to the log context, returns it in the
response's ``X-Request-Id``, and at the end records the request's count,
latency and SQL statements and time under its operation name (the GraphQL
operation, or the first path segment for the other routes).
"""

from __future__ import annotations

import time

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qrefund.observability import context, metrics

HEADER = "X-Request-Id"
# Non-GraphQL routes by their first path segment; anything else is "other".
ROUTES = frozenset({"", "healthz", "readyz", "metrics", "r", "my", "static", "receipts",
                    "uploads", "evidence", "callbacks", "exports", "graphql"})


def route_label(path: str) -> str:
    first = path.strip("/").split("/", 1)[0]
    return f"http:/{first}" if first in ROUTES else "http:other"


class RequestObservation:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        raw = headers.get(b"x-request-id", b"").decode("latin-1")
        info = context.start_request(context.accept_request_id(raw))
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[HEADER] = info.request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            label = (metrics.operation_label(info.operation) if info.operation
                     else route_label(scope.get("path", "")))
            metrics.observe_request(label, metrics.outcome_of(status, info.graphql_errors),
                                    time.perf_counter() - started, info.sql_statements,
                                    info.sql_seconds)
