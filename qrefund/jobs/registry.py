"""What happens after an event commits: handlers turn outbox events into jobs.

The outbox relay (:mod:`qrefund.jobs.relay`) reads committed ``DomainEvent``
rows and, for each, asks every handler registered for the event's type which
jobs to enqueue. Handlers are pure: they look only at the event and return
:class:`JobSpec` values; the relay enqueues them with a deterministic job id
(``ev-<event id>-<handler hash>`` unless the spec names one; see
:func:`job_id_for`) so relaying an event twice never enqueues twice. Domains
register handlers with :func:`on_event` in a module of the ``qrefund.jobs``
package; :func:`load_handlers` finds every such module (no list to keep).
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib
import json
import pkgutil
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

QUEUE_RELAY = "relay"  # the outbox relay: short, and every other job waits on it
QUEUE_PAYOUTS = "payouts"
QUEUE_NOTIFICATIONS = "notifications"
QUEUE_MAINTENANCE = "maintenance"  # sweeps, deadline timers: may pile up, may wait
# Every queue, in the order a worker serves them (RQ takes from the first non-empty
# queue): a backlog of maintenance work never delays a payout.
QUEUES = (QUEUE_RELAY, QUEUE_PAYOUTS, QUEUE_NOTIFICATIONS, QUEUE_MAINTENANCE)


@dataclass(frozen=True)
class EventMessage:
    """A committed domain event as handlers (and pub/sub subscribers) see it."""

    tenant_id: uuid.UUID
    event_id: uuid.UUID
    seq: int
    type: str
    aggregate_type: str
    aggregate_id: uuid.UUID
    payload: dict[str, Any]
    actor: str
    occurred_at: datetime


@dataclass(frozen=True)
class JobSpec:
    """One job to enqueue: ``func`` is a dotted path to a (sync or async) function."""

    queue: str
    func: str
    args: tuple[Any, ...] = ()
    job_id: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    # Waits (seconds) before each retry when the job raises: None = the default for
    # transient failures (QREFUND_JOB_RETRY_SECONDS); () = never retried.
    retry_intervals: tuple[int, ...] | None = None
    # Shown in job logs and the failed-jobs list (e.g. {"case_id": "..."}).
    meta: dict[str, str] = field(default_factory=dict)
    # RQ's job timeout in seconds: None = the common one (qrefund.jobs.relay.JOB_TIMEOUT).
    timeout: int | None = None


Handler = Callable[[EventMessage], Iterable[JobSpec]]

_HANDLERS: list[tuple[tuple[str, ...], str, Handler]] = []


def on_event(*patterns: str) -> Callable[[Handler], Handler]:
    """Register a handler for event types matching any glob (``refund_case.*``, ``*``)."""

    def register(handler: Handler) -> Handler:
        name = f"{handler.__module__}.{handler.__qualname__}"
        if not any(existing == name for _p, existing, _h in _HANDLERS):
            _HANDLERS.append((patterns, name, handler))
        return handler

    return register


def handlers_for(event_type: str) -> list[tuple[str, Handler]]:
    load_handlers()
    return [
        (name, handler)
        for patterns, name, handler in _HANDLERS
        if any(fnmatch.fnmatchcase(event_type, p) for p in patterns)
    ]


_loaded = False


def load_handlers() -> None:
    """Import every module of the ``qrefund.jobs`` package once: the handlers register
    with :func:`on_event` as they are defined, so a new job module needs no list."""
    global _loaded
    if _loaded:
        return
    import qrefund.jobs as package

    for module in pkgutil.iter_modules(package.__path__, f"{package.__name__}."):
        importlib.import_module(module.name)
    _loaded = True


# -- Job ids ------------------------------------------------------------------

_JOB_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def safe_job_id(raw: str) -> str:
    """RQ accepts only letters, digits, ``_`` and ``-`` in job ids: map the rest to ``-``."""
    cleaned = _JOB_ID_UNSAFE.sub("-", raw).strip("-")
    if len(cleaned) > 200:  # long ids are hashed, keeping them unique and stable
        cleaned = cleaned[:150] + "-" + hashlib.sha256(cleaned.encode()).hexdigest()[:32]
    return cleaned


def job_id_for(spec: JobSpec, message: EventMessage, handler_name: str) -> str:
    """The deterministic id of the job a handler asked for (relaying twice enqueues once)."""
    if spec.job_id:
        return safe_job_id(spec.job_id)
    digest = hashlib.sha256(f"{handler_name}|{spec.func}".encode()).hexdigest()[:12]
    return f"ev-{message.event_id.hex}-{digest}"


# -- Event messages on the wire (pub/sub, job arguments) -----------------------


def encode_message(message: EventMessage) -> str:
    """JSON of an EventMessage: what ``qrefund:events:<tenant_id>`` subscribers receive."""
    return json.dumps({
        "tenantId": str(message.tenant_id), "eventId": str(message.event_id), "seq": message.seq,
        "type": message.type, "aggregateType": message.aggregate_type,
        "aggregateId": str(message.aggregate_id), "payload": message.payload,
        "actor": message.actor, "occurredAt": message.occurred_at.isoformat(),
    }, separators=(",", ":"), default=str)


def decode_message(raw: str | bytes) -> EventMessage:
    data = json.loads(raw)
    return EventMessage(
        tenant_id=uuid.UUID(data["tenantId"]), event_id=uuid.UUID(data["eventId"]),
        seq=int(data["seq"]), type=data["type"], aggregate_type=data["aggregateType"],
        aggregate_id=uuid.UUID(data["aggregateId"]), payload=data["payload"], actor=data["actor"],
        occurred_at=datetime.fromisoformat(data["occurredAt"]),
    )


def events_channel(tenant_id: uuid.UUID | str) -> str:
    """The Redis pub/sub channel carrying one tenant's committed events."""
    return f"qrefund:events:{tenant_id}"


# -- Periodic jobs ---------------------------------------------------------------


@dataclass(frozen=True)
class PeriodicJob:
    """A job the scheduler enqueues every ``interval`` seconds (once per interval, however
    many schedulers run). ``interval`` may name a Settings field (e.g. "deadline_sweep_seconds")."""

    name: str
    queue: str
    func: str
    interval: int | str
    timeout: int = 600


PERIODIC: list[PeriodicJob] = []


def every(interval: int | str, *, queue: str, name: str | None = None, timeout: int = 600,
          ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a module-level function (no arguments) as a periodic job."""

    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        dotted = f"{func.__module__}.{func.__qualname__}"
        job = PeriodicJob(name=name or dotted, queue=queue, func=dotted, interval=interval,
                          timeout=timeout)
        if all(p.name != job.name for p in PERIODIC):
            PERIODIC.append(job)
        return func

    return register
