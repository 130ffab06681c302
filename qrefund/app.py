"""The ASGI application: GraphQL at /graphql, health checks, body-size limit."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qrefund.graphql_schema.channels.callbacks import alipay_route, wechatpay_route
from qrefund.graphql_schema.consumer.routes import EvidenceRoutes, ReceiptPng
from qrefund.graphql_schema.errors import RequestError
from qrefund.graphql_schema.exports.routes import ExportDownloads
from qrefund.graphql_schema.imports.routes import ImportReports
from qrefund.graphql_schema.schema import build_schema
from qrefund.jobs.monitoring import metrics_endpoint, redis_ready
from qrefund.observability import metrics, tracing
from qrefund.observability.middleware import RequestObservation
from qrefund.observability.process import configure_process
from qrefund.platform import risk
from qrefund.platform.config import Settings, get_settings
from qrefund.platform.consumer.uploads import MAX_FILE_BYTES, MAX_FILES
from qrefund.platform.db import Database
from qrefund.platform.outbox import notices
from qrefund.platform.ratelimit import RateLimiter
from qrefund.portal.graphiql import LocalGraphiQL
from qrefund.portal.routes import portal_routes

log = logging.getLogger("qrefund.app")


class RedactQueryStrings(logging.Filter):
    """Access-log lines without query strings: GET /graphql?query=...&variables=...
    carries the client's variables (phone numbers, bank accounts) into the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path = args[2]
            if "?" in path:
                record.args = (*args[:2], path.split("?", 1)[0] + "?…", *args[3:])
        return True


def _redact_access_log() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactQueryStrings) for f in access.filters):
        access.addFilter(RedactQueryStrings())


class BodySizeLimit:
    """413 for bodies over the limit, by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int,
                 larger: dict[str, int] | None = None,
                 multipart: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = larger or {}  # path prefix -> its own limit (uploads)
        # path prefix -> the limit of its multipart/form-data bodies (importTransactions)
        self.multipart = multipart or {}

    def _limit(self, scope: Scope) -> int:
        path = scope.get("path", "")
        if self.multipart:
            kind = dict(scope.get("headers") or []).get(b"content-type", b"")
            if kind.lower().startswith(b"multipart/form-data"):
                found = next((n for prefix, n in self.multipart.items()
                              if path.startswith(prefix)), None)
                if found is not None:
                    return found
        return next((n for prefix, n in self.larger.items() if path.startswith(prefix)),
                    self.max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope)
        if limit != self.max_bytes:
            await BodySizeLimit(self.app, limit)(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._too_large(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = {
            "errors": [
                {
                    "message": f"request body over {self.max_bytes} bytes",
                    "extensions": {"code": RequestError.PAYLOAD_TOO_LARGE},
                }
            ]
        }
        await JSONResponse(body, status_code=413)(scope, receive, send)


class _TooLarge(Exception):
    pass


def create_app(settings: Settings | None = None, db: Database | None = None) -> Starlette:
    # Called with no settings by uvicorn (`qrefund serve`, one call per worker process):
    # this process's logs are ours to configure. Tests and scripts keep their own.
    configure_process(settings or get_settings(), logging=settings is None)
    settings = settings or get_settings()
    database = db or Database(settings)
    risk.install()  # anomaly rules run when payments are recorded and refunds requested
    limiter = RateLimiter(settings)
    # GraphiQL's files come from this application (qrefund/portal/static/graphiql).
    graphql = LocalGraphiQL(build_schema(settings), database, settings, limiter)
    _redact_access_log()

    async def healthz(_: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(_: Request) -> Response:
        try:
            await database.ping()
        except Exception as exc:  # readiness reports, it does not crash
            log.warning("readiness check failed: %s", exc)
            return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)
        if not await redis_ready(settings):
            return JSONResponse({"status": "unavailable", "database": "up", "redis": "down"},
                                status_code=503)
        return JSONResponse({"status": "ok", "database": "up", "redis": "up"})

    async def root(_: Request) -> Response:
        return RedirectResponse("/graphql")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        from qrefund.jobs.embedded import start_api_runtime, stop_api_runtime

        # Commits nudge the outbox relay; with no Redis, jobs run in this process.
        jobs = start_api_runtime(settings)
        # Revocation notices go out through this process's pub/sub hub.
        notices.install(graphql.hub.publish)
        # Checked API keys are reused for seconds while revocations are heard.
        await graphql.start_key_cache()
        # Start-up objects (schema, modules) leave the GC's generations: collections
        # during requests then walk only what requests allocate.
        gc.collect()
        gc.freeze()
        # A page of 50 rows keeps ~1,500 objects alive at once: at the default 700 each
        # request set off two young collections that walked its live objects and moved
        # them up to be walked again (8% of a page's CPU); at 10,000 a collection comes
        # every few requests, when nearly all of them are gone.
        gc.set_threshold(10_000, 10, 10)
        yield
        graphql.stop_key_cache()
        notices.uninstall(graphql.hub.publish)
        await graphql.hub.close()
        await limiter.close()
        stop_api_runtime(jobs)
        metrics.process_exited(os.getpid())  # its open subscriptions leave the live sum
        if db is None:
            await database.dispose()

    evidence = EvidenceRoutes(database, settings, graphql.limiter)
    app = Starlette(
        routes=[
            Route("/", root),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint(database, settings), methods=["GET"]),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            # The consumer pages: /r/<token>, /my, their static files.
            *portal_routes(settings, database, limiter),
            Route("/receipts/{transaction_id}.png",
                  ReceiptPng(database, settings, graphql.limiter).handle, methods=["GET"]),
            Route("/uploads/{ticket}", evidence.upload, methods=["POST"]),
            Route("/evidence/{link}", evidence.download, methods=["GET"]),
            # Payment providers' refund results (README "Payment channels").
            Route("/callbacks/wechatpay/{account}", wechatpay_route(database, settings),
                  methods=["POST"]),
            Route("/callbacks/alipay/{account}", alipay_route(database, settings),
                  methods=["POST"]),
            Route("/exports/{link}", ExportDownloads(database, settings).download,
                  methods=["GET"]),
            Route("/import-reports/{link}", ImportReports(database, settings).download,
                  methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.db = database
    app.state.settings = settings
    # Evidence uploads: up to MAX_FILES files of MAX_FILE_BYTES, plus the multipart framing.
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes,
                       larger={"/uploads/": MAX_FILES * MAX_FILE_BYTES + 64 * 1024,
                               # the receipt page's forms (its refund form takes files)
                               "/r/": MAX_FILES * MAX_FILE_BYTES + 64 * 1024},
                       # importTransactions: one file plus the multipart framing
                       multipart={"/graphql": settings.max_import_bytes + 64 * 1024})
    # Outermost: request id, log context and request metrics (README "Observability").
    app.add_middleware(RequestObservation)
    tracing.instrument_app(app)
    tracing.instrument_engines([database.write_engine, database.read_engine])
    return app
