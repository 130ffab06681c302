"""Test plumbing for jobs: a real HTTP receiver, a real RQ worker, events, time travel.

* :class:`Receiver` is an ``http.server`` on 127.0.0.1 (random port) in a thread;
  it answers each request with the next scripted behaviour (a status code, a
  redirect, or a delay longer than the sender's timeout) and keeps every request.
* :class:`Jobs` points the job runtime at the test database and the test Redis,
  enqueues :class:`JobSpec` values as the relay does, and drains the queues with a
  real RQ worker (``ThreadWorker``, a SimpleWorker that runs in a thread).
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from redis import Redis
from rq import Queue
from sqlalchemy import event, func, select, update

from qrefund.jobs import runtime
from qrefund.jobs.registry import QUEUES, EventMessage, JobSpec, handlers_for, job_id_for
from qrefund.jobs.relay import enqueue_spec, to_message
from qrefund.jobs.worker import ThreadWorker
from qrefund.platform.clock import utcnow
from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from qrefund.platform.outbox.models import DomainEvent
from qrefund.platform.outbox.service import record_event
from qrefund.platform.scope import TenantScope
from qrefund.platform.webhooks import delivery
from qrefund.platform.webhooks.sender import Outcome

FAILED = Outcome(ok=False, status_code=500, latency_ms=7, error="HTTP 500",
                 response_excerpt="receiver says no")
SUCCEEDED = Outcome(ok=True, status_code=200, latency_ms=5, error=None, response_excerpt="{}")


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Behaviours: an int status, ("redirect", url), or ("sleep", seconds) then 200."""

    requests: list[Received] = field(default_factory=list)
    script: list[Any] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/hooks/qrefund"

    def respond(self, *behaviours: Any) -> None:
        self.script.extend(behaviours)

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                receiver.requests.append(Received(
                    self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                behaviour = receiver.script.pop(0) if receiver.script else 200
                if isinstance(behaviour, tuple) and behaviour[0] == "sleep":
                    time.sleep(behaviour[1])
                    behaviour = 200
                if isinstance(behaviour, tuple) and behaviour[0] == "redirect":
                    self.send_response(302)
                    self.send_header("Location", behaviour[1])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                answer = b'{"ok":true}' if behaviour < 300 else b"receiver says no"
                try:
                    self.send_response(int(behaviour))
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:  # the sender gave up (timeout) and closed the socket
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


class Jobs:
    """The job runtime on the test database and Redis, drained by a real worker."""

    def __init__(self, settings: Settings, redis: Redis) -> None:
        self.settings = settings
        self.redis = redis
        self.db = Database(settings, pooled=False)
        runtime.configure(settings=settings, db=self.db, redis=redis)

    def reconfigure(self, **changes: Any) -> None:
        self.settings = self.settings.model_copy(update=changes)
        runtime.configure(settings=self.settings)

    def enqueue(self, spec: JobSpec, message: EventMessage | None = None) -> None:
        job_id = spec.job_id or f"test-{uuid.uuid4().hex}"
        if message is not None:
            job_id = job_id_for(spec, message, "test")
        enqueue_spec(self.redis, spec, job_id, dict(spec.meta))

    def handle(self, message: EventMessage, handler_module: str) -> list[JobSpec]:
        """The JobSpecs this module's handlers ask for (what the relay would enqueue)."""
        specs: list[JobSpec] = []
        for name, handler in handlers_for(message.type):
            if name.startswith(handler_module):
                specs.extend(handler(message))
        return specs

    async def run(self) -> None:
        """Drain every queue with one real worker (burst), off the test's event loop."""
        queues = [Queue(name, connection=self.redis) for name in QUEUES]
        worker = ThreadWorker(queues, connection=self.redis)
        await asyncio.to_thread(worker.work, burst=True, logging_level="WARNING")

    def failed_job_ids(self) -> list[str]:
        ids: list[str] = []
        for name in QUEUES:
            ids.extend(Queue(name, connection=self.redis).failed_job_registry.get_job_ids())
        return ids

    async def close(self) -> None:
        runtime.reset()
        await self.db.dispose()


async def emit(db: Database, scope: TenantScope, tenant_id: uuid.UUID, type: str,
               payload: dict[str, Any] | None = None) -> EventMessage:
    """Write an outbox event as a domain service would; returns the relay's message."""
    async with db.unit_of_work(scope) as uow:
        event = await record_event(uow, tenant_id=tenant_id, type=type,
                                   aggregate_type=type.split(".")[0], aggregate_id=uuid.uuid4(),
                                   payload=payload or {"caseNumber": "R-1", "amountMinor": 1250})
    return to_message(event)


def message_of(event: DomainEvent) -> EventMessage:
    return to_message(event)


def owner_update(owner_engine: Any, model: Any, *where: Any, **values: Any) -> None:
    """UPDATE as the table owner, past RLS: how tests move the clock of a row."""
    with owner_engine.begin() as conn:
        conn.execute(update(model).where(*where).values(**values))


def owner_rows(owner_engine: Any, model: Any, *where: Any) -> list[Any]:
    with owner_engine.begin() as conn:
        return list(conn.execute(select(model).where(*where)))


def owner_count(owner_engine: Any, model: Any) -> int:
    with owner_engine.begin() as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


@contextmanager
def counting(db: Database) -> Iterator[list[str]]:
    """The SQL statements ``db`` sends while the block runs (both engines)."""
    statements: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engines = {id(e): e for e in (db.read_engine, db.write_engine)}.values()
    for engine in engines:
        event.listen(engine.sync_engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        for engine in engines:
            event.remove(engine.sync_engine, "before_cursor_execute", before)


async def attempt(db: Database, key: tuple[uuid.UUID, uuid.UUID], outcome: Outcome,
                  later: timedelta = timedelta(0)) -> None:
    """Claim and record one attempt of a delivery as the job would, without HTTP,
    ``later`` from now (past a retry's wait)."""
    tenant_id, delivery_id = key
    async with db.unit_of_work(runtime.job_scope(tenant_id, "webhooks")) as uow:
        claimed = await delivery.claim(uow, tenant_id, delivery_id, utcnow() + later)
    assert claimed is not None
    async with db.unit_of_work(runtime.job_scope(tenant_id, "webhooks")) as uow:
        recorded = await delivery.record_outcome(uow, claimed, outcome, utcnow() + later)
    assert recorded is not None
