"""The job runtime's side of tenancy, database and Redis access.

Jobs take ids, reload state and act inside a scope made here (the only place
besides the auth layer that issues scopes). RQ runs each coroutine job with
``asyncio.run`` (a fresh event loop per job), and a pooled asyncio connection
cannot outlive its loop: so a forked work horse uses an engine without a pool,
while the simple and thread workers run jobs as :class:`QrefundJob`, on one
persistent loop per worker thread with a pooled engine of its own.

Redis is ``QREFUND_REDIS_URL``; when it is unset the process uses an in-process
Redis (fakeredis with Lua) shared by everything in the process, which is what the
embedded runtime of ``qrefund serve`` runs on (:mod:`qrefund.jobs.embedded`).
Tests and the embedded runtime point the runtime at their own settings, database
and Redis with :func:`configure`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog
from redis import Redis
from rq import Queue
from rq.job import Job
from rq.timeouts import BaseTimeoutException

from qrefund.observability import context, tracing
from qrefund.platform.config import Settings, get_settings
from qrefund.platform.db import Database
from qrefund.platform.roles import Role
from qrefund.platform.scope import TenantKind, TenantScope, _issue

log = logging.getLogger(__name__)
T = TypeVar("T")

# How long a Redis call may wait before the caller gives up (the outbox keeps the work).
REDIS_CONNECT_TIMEOUT = 2.0
REDIS_SOCKET_TIMEOUT = 10.0


def job_scope(tenant_id: uuid.UUID, actor: str = "system") -> TenantScope:
    """A job working on one tenant's data sees that tenant only."""
    return _issue(tenant_ids=frozenset({tenant_id}), actor_tenant_id=tenant_id,
                  actor_kind=TenantKind.MERCHANT, role=Role.ADMIN, actor=actor)


def tenants_scope(tenant_ids: frozenset[uuid.UUID], actor: str = "system") -> TenantScope:
    """A job working on exactly these tenants' data (a callback to an agency's
    service-provider account settles a payout of one of the merchants linked to it)."""
    return _issue(tenant_ids=tenant_ids, actor_tenant_id=None, actor_kind=TenantKind.MERCHANT,
                  role=Role.ADMIN, actor=actor)


def system_scope(actor: str = "system") -> TenantScope:
    """Cross-tenant maintenance (outbox relay, deadline sweep): every tenant."""
    return _issue(tenant_ids=None, actor_tenant_id=None, actor_kind=TenantKind.OPERATOR,
                  role=Role.ADMIN, actor=actor)


@dataclass
class _Runtime:
    settings: Settings | None = None
    db: Database | None = None
    redis: Redis | None = None
    # Called after jobs were enqueued: the embedded runtime wakes its worker with it.
    on_enqueue: Callable[[], None] | None = None


_state = _Runtime()
_lock = threading.Lock()
_fake_server: object | None = None


def configure(*, settings: Settings | None = None, db: Database | None = None,
              redis: Redis | None = None, on_enqueue: Callable[[], None] | None = None) -> None:
    """Point the runtime at these objects (tests, the embedded runtime, ``qrefund worker``)."""
    with _lock:
        if settings is not None:
            _state.settings = settings
        if db is not None:
            _state.db = db
        if redis is not None:
            _state.redis = redis
        if on_enqueue is not None:
            _state.on_enqueue = on_enqueue


def reset() -> None:
    """Forget configured objects (the next call builds them from the settings again)."""
    global _default_db
    with _lock:
        _state.settings = _state.db = _state.redis = _state.on_enqueue = None
        _default_db = None


def settings() -> Settings:
    return _state.settings or get_settings()


_local = threading.local()  # a worker thread's persistent job loop and its database
_default_db: Database | None = None


def database() -> Database:
    """The job database.

    Jobs run by :class:`QrefundJob` (the simple and thread workers) run on their
    thread's persistent event loop and get a pooled database bound to that loop:
    connections are reused from job to job. Anywhere else (RQ's own
    ``asyncio.run`` in a forked work horse, scripts) a fresh loop per call means
    an un-pooled database. A database given to :func:`configure` wins.
    """
    global _default_db
    with _lock:
        if _state.db is not None:
            return _state.db
    if _on_job_loop():
        if getattr(_local, "db", None) is None:
            _local.db = Database(settings(), pooled=True)
        db: Database = _local.db
        return db
    with _lock:
        if _default_db is None:
            _default_db = Database(settings(), pooled=False)
        return _default_db


def _on_job_loop() -> bool:
    loop = getattr(_local, "loop", None)
    if loop is None:
        return False
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def prepare_for_fork() -> None:
    """In a forking worker, before the first work horse: import the job modules, configure
    the ORM mappers, build the un-pooled job database and connect once, so every horse
    inherits them (the driver imported, the dialect initialised) instead of redoing it
    all for each job, about 0.2 s a job (see bench/jobs.py). The engine pools nothing,
    so no connection crosses a fork.

    Best effort: a database that is down at start only costs the horses that time.
    """
    from sqlalchemy.orm import configure_mappers

    from qrefund.jobs.registry import load_handlers

    load_handlers()  # every job module imported once, here
    configure_mappers()
    try:
        asyncio.run(_connect_once(database()))
    except Exception as exc:
        log.warning("job database not reachable at worker start (%s); jobs will retry",
                    type(exc).__name__)


async def _connect_once(db: Database) -> None:
    for engine in {db.write_engine, db.read_engine}:  # SQLite has two; the first connect
        async with engine.connect():  # initialises the dialect
            pass


def run_on_job_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a job's coroutine on this thread's persistent event loop."""
    loop = getattr(_local, "loop", None)
    if loop is None or loop.is_closed():
        loop = _local.loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    except BaseTimeoutException:
        # A job timeout interrupts the loop mid-step: start the next job on a new one.
        _local.loop = _local.db = None
        raise


def close_job_loop() -> None:
    """Close this thread's job loop and its database's connections (thread exit)."""
    loop, db = getattr(_local, "loop", None), getattr(_local, "db", None)
    _local.loop = _local.db = None
    if loop is None or loop.is_closed():
        return
    if db is not None:
        loop.run_until_complete(db.dispose())
    loop.run_until_complete(loop.shutdown_default_executor())
    loop.close()


class QrefundJob(Job):
    """An RQ job whose coroutine runs on the worker thread's persistent loop (RQ's
    default, ``asyncio.run``, makes a new loop and new connections for every job)."""

    def _execute(self) -> Any:
        if not self.func:
            raise ValueError("Cannot execute job: function is None")
        result = self.func(*self.args, **self.kwargs)
        if asyncio.iscoroutine(result):
            return run_on_job_loop(result)
        return result


def embedded_redis() -> Redis:
    """A client of the process-wide in-process Redis (fakeredis with Lua scripting)."""
    import fakeredis

    return fakeredis.FakeRedis(server=embedded_server())  # type: ignore[arg-type]


def embedded_server() -> Any:
    """The process-wide fakeredis server (sync and asyncio clients share it)."""
    import fakeredis

    global _fake_server
    if _fake_server is None:
        _fake_server = fakeredis.FakeServer()
    return _fake_server


def redis_from_url(url: str | None) -> Redis:
    if not url:
        return embedded_redis()
    return Redis.from_url(url, socket_connect_timeout=REDIS_CONNECT_TIMEOUT,
                          socket_timeout=REDIS_SOCKET_TIMEOUT, health_check_interval=30)


def redis() -> Redis:
    """The Redis holding queues and pub/sub: ``QREFUND_REDIS_URL`` or the in-process one."""
    with _lock:
        if _state.redis is None:
            _state.redis = redis_from_url(settings().redis_url)
        return _state.redis


def is_embedded() -> bool:
    return not settings().redis_url


class TracedQueue(Queue):
    """A queue whose jobs carry where they came from: the enqueuing request's id
    (``request_id`` in the job's meta; a job enqueuing more passes on its own) and
    its trace context (``trace``), so worker logs and spans link back to it."""

    def create_job(self, *args: Any, **kwargs: Any) -> Job:
        origin: dict[str, Any] = {}
        request_id = context.current_request_id() or _job_origin()
        if request_id:
            origin["request_id"] = request_id
        carrier = tracing.inject()
        if carrier:
            origin[tracing.TRACE_META_KEY] = carrier
        kwargs["meta"] = {**origin, **(kwargs.get("meta") or {})}
        return super().create_job(*args, **kwargs)


def _job_origin() -> str | None:
    value = structlog.contextvars.get_contextvars().get("enqueued_by")
    return str(value) if value else None


def queue(name: str, connection: Redis | None = None) -> Queue:
    return TracedQueue(name, connection=connection or redis())


def enqueued() -> None:
    """Tell the embedded runtime (if any) that work is waiting."""
    callback = _state.on_enqueue
    if callback is not None:
        callback()
