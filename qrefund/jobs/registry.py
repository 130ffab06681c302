"""What happens after an event commits: handlers turn outbox events into jobs.

The outbox relay (:mod:`qrefund.jobs.relay`) reads committed ``DomainEvent``
rows and, for each, asks every handler registered for the event's type which
jobs to enqueue. Handlers are pure: they look only at the event and return
:class:`JobSpec` values; the relay enqueues them with a deterministic job id
(``<event id>:<handler>`` unless the spec names one) so relaying an event twice
never enqueues twice. Domains register handlers with :func:`on_event` in their
own module and list that module in :data:`HANDLER_MODULES`.
"""

from __future__ import annotations

import fnmatch
import importlib
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Modules that register handlers; imported once by :func:`load_handlers`.
HANDLER_MODULES: list[str] = []

QUEUE_PAYOUTS = "payouts"
QUEUE_NOTIFICATIONS = "notifications"
QUEUE_MAINTENANCE = "maintenance"
QUEUES = (QUEUE_PAYOUTS, QUEUE_NOTIFICATIONS, QUEUE_MAINTENANCE)


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
    global _loaded
    if _loaded:
        return
    for module in HANDLER_MODULES:
        importlib.import_module(module)
    _loaded = True
