"""The job runtime's side of tenancy, database and Redis access.

Jobs take ids, reload state and act inside a scope made here (the only place
besides the auth layer that issues scopes). RQ runs each coroutine job with
``asyncio.run`` (a fresh event loop per job), so workers use engines without a
connection pool: a pooled asyncio connection cannot outlive its loop.

Redis is ``QREFUND_REDIS_URL``; when it is unset the process uses an in-process
Redis (fakeredis with Lua) shared by everything in the process, which is what the
embedded runtime of ``qrefund serve`` runs on (:mod:`qrefund.jobs.embedded`).
Tests and the embedded runtime point the runtime at their own settings, database
and Redis with :func:`configure`.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis import Redis
from rq import Queue

from qrefund.platform.config import Settings, get_settings
from qrefund.platform.db import Database
from qrefund.tenants.roles import Role
from qrefund.tenants.scope import TenantKind, TenantScope, _issue

log = logging.getLogger(__name__)

# How long a Redis call may wait before the caller gives up (the outbox keeps the work).
REDIS_CONNECT_TIMEOUT = 2.0
REDIS_SOCKET_TIMEOUT = 10.0


def job_scope(tenant_id: uuid.UUID, actor: str = "system") -> TenantScope:
    """A job working on one tenant's data sees that tenant only."""
    return _issue(tenant_ids=frozenset({tenant_id}), actor_tenant_id=tenant_id,
                  actor_kind=TenantKind.MERCHANT, role=Role.ADMIN, actor=actor)


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
    with _lock:
        _state.settings = _state.db = _state.redis = _state.on_enqueue = None


def settings() -> Settings:
    return _state.settings or get_settings()


def database() -> Database:
    """This process's job database (un-pooled: every job runs in a new event loop)."""
    with _lock:
        if _state.db is None:
            _state.db = Database(settings(), pooled=False)
        return _state.db


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


def queue(name: str, connection: Redis | None = None) -> Queue:
    return Queue(name, connection=connection or redis())


def enqueued() -> None:
    """Tell the embedded runtime (if any) that work is waiting."""
    callback = _state.on_enqueue
    if callback is not None:
        callback()
