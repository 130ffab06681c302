"""The outbox relay: committed ``DomainEvent`` rows become RQ jobs and pub/sub messages.

State changes write their events in the same transaction as the change
(:func:`qrefund.platform.outbox.service.record_event`). The relay reads events
not yet relayed, asks the registered handlers which jobs each one needs,
enqueues them with deterministic ids (RQ's atomic ``unique`` enqueue, so an
event relayed twice enqueues once), publishes each event on
``qrefund:events:<tenant_id>`` and only then marks the events relayed, in the
same database transaction that locked them. If Redis is down the transaction
rolls back and the events wait for the next run: nothing is lost, and a crash
after enqueueing but before the commit at worst relays again (handlers' jobs are
idempotent and their ids dedupe).

Two paths run the relay:

* **the nudge**: after a unit of work that wrote events commits, :func:`nudge`
  enqueues a ``relay_events`` job for exactly those events (one Redis call), so
  events flow within milliseconds;
* **the catch-up run**: the scheduler enqueues :func:`relay_pending` every
  ``QREFUND_RELAY_SWEEP_SECONDS``; it relays whatever the nudges missed (Redis was
  down, a process died between commit and nudge).

Several relays may run at once: on PostgreSQL each takes its batch with
``FOR UPDATE SKIP LOCKED``; SQLite serialises writers (write units begin with
``BEGIN IMMEDIATE``), so the second relay sees the first one's marks.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq.exceptions import DuplicateJobError

from qrefund.jobs import runtime
from qrefund.jobs.enqueue import retry_policy
from qrefund.jobs.registry import (
    QUEUE_RELAY,
    EventMessage,
    JobSpec,
    encode_message,
    events_channel,
    every,
    handlers_for,
    job_id_for,
)
from qrefund.platform.db import on_events_committed, remove_events_listener
from qrefund.platform.outbox import service as outbox
from qrefund.platform.outbox.models import DomainEvent

log = logging.getLogger(__name__)

BATCH_SIZE = 500
RESULT_TTL = 24 * 3600  # finished jobs (and their ids, which dedupe re-relays) kept a day
FAILURE_TTL = 30 * 24 * 3600  # failed jobs stay visible to operators for a month
JOB_TIMEOUT = 300
NUDGE_PAUSE_SECONDS = 5.0  # after Redis refused a nudge, let the catch-up run do the work


def to_message(event: DomainEvent | outbox.RecordedEvent) -> EventMessage:
    return EventMessage(
        tenant_id=event.tenant_id, event_id=event.id, seq=event.seq, type=event.type,
        aggregate_type=event.aggregate_type, aggregate_id=event.aggregate_id,
        payload=dict(event.payload or {}), actor=event.actor, occurred_at=event.occurred_at,
    )


def _job_meta(message: EventMessage, spec: JobSpec) -> dict[str, str]:
    meta = {"tenant_id": str(message.tenant_id), "event_id": str(message.event_id),
            "event_type": message.type}
    if message.aggregate_type == "refund_case":
        meta["case_id"] = str(message.aggregate_id)
    meta.update(spec.meta)
    return meta


def enqueue_spec(conn: Redis, spec: JobSpec, job_id: str, meta: dict[str, str]) -> bool:
    """Enqueue one job unless a job with this id exists; True when enqueued.

    The job is retried with backoff when it raises (the spec's waits, by default
    ``QREFUND_JOB_RETRY_SECONDS``): a database or Redis outage delays it, never drops it.
    """
    retry = retry_policy(spec.retry_intervals)
    try:
        runtime.queue(spec.queue, conn).enqueue_call(
            spec.func, args=spec.args, kwargs=spec.kwargs, job_id=job_id, unique=True, meta=meta,
            retry=retry, result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL,
            timeout=spec.timeout or JOB_TIMEOUT,
        )
    except DuplicateJobError:
        return False
    return True


def dispatch(conn: Redis, messages: Sequence[EventMessage]) -> int:
    """Enqueue every handler's jobs and publish every message; Redis errors propagate.

    A handler that raises is a bug in that handler: it is logged and skipped so
    one broken handler cannot hold every later event back.
    """
    enqueued = 0
    for message in messages:
        for name, handler in handlers_for(message.type):
            try:
                specs = list(handler(message))
            except Exception:
                log.exception("handler %s failed on event %s (%s)", name, message.event_id,
                              message.type)
                continue
            for spec in specs:
                job_id = job_id_for(spec, message, name)
                enqueued += enqueue_spec(conn, spec, job_id, _job_meta(message, spec))
    with conn.pipeline(transaction=False) as pipe:
        for message in messages:
            pipe.publish(events_channel(message.tenant_id), encode_message(message))
        pipe.execute()
    return enqueued


async def _relay_batch(keys: list[tuple[uuid.UUID, uuid.UUID]] | None, limit: int) -> int:
    db, conn = runtime.database(), runtime.redis()
    async with db.unit_of_work(runtime.system_scope("outbox-relay")) as uow:
        events = await outbox.claim_unrelayed(uow, keys, limit)
        if not events:
            return 0
        dispatch(conn, [to_message(e) for e in events])
        await outbox.mark_relayed(uow, events)
    runtime.enqueued()
    return len(events)


@every("relay_sweep_seconds", queue=QUEUE_RELAY, name="outbox-relay")
async def relay_pending(limit: int = BATCH_SIZE) -> int:
    """Job: relay every committed event not relayed yet, oldest first, in batches."""
    total = 0
    while True:
        count = await _relay_batch(None, limit)
        total += count
        if count < limit:
            if total:
                log.info("relayed %d events", total)
            return total


def _parse_refs(refs: Sequence[str]) -> list[tuple[uuid.UUID, uuid.UUID]]:
    keys = []
    for ref in refs:
        tenant, _, event = ref.partition(":")
        keys.append((uuid.UUID(tenant), uuid.UUID(event)))
    return keys


async def relay_events(refs: list[str]) -> int:
    """Job (the nudge): relay these events (``"<tenant id>:<event id>"``) if still pending."""
    keys = _parse_refs(refs)
    total = 0
    for start in range(0, len(keys), BATCH_SIZE):
        chunk = keys[start:start + BATCH_SIZE]
        total += await _relay_batch(chunk, len(chunk))
    return total


# -- The nudge -------------------------------------------------------------------

_paused_until = 0.0


def _enqueue_relay(refs: list[str]) -> None:
    runtime.queue(QUEUE_RELAY).enqueue_call(
        "qrefund.jobs.relay.relay_events", args=(refs,), at_front=True, result_ttl=60,
        failure_ttl=FAILURE_TTL, timeout=JOB_TIMEOUT, meta={"reason": "nudge"},
    )
    runtime.enqueued()


@dataclass
class _Nudges:
    """The nudges of one event loop: the refs waiting for the next enqueue, and the
    enqueue in flight. Batches are numbered; a commit's refs join the batch not yet
    taken (``batch``) and its nudge returns once that batch was handed to Redis
    (``done``)."""

    pending: list[str] = field(default_factory=list)
    batch: int = 0
    done: int = -1
    in_flight: asyncio.Future[None] | None = None


_nudges: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Nudges] = \
    weakref.WeakKeyDictionary()


async def nudge(events: list[Any]) -> None:
    """After-commit listener: ask a worker to relay these events now.

    One enqueue at a time per process: a commit whose nudge finds one in flight adds
    its refs to the next and waits for it, so under load one relay job carries the
    events of every commit that landed meanwhile (an RQ enqueue costs ~0.35 ms of CPU,
    ~0.55 ms through a thread: as much as a third of a refund write's own statements),
    and an idle process still enqueues at once. The nudge returns when its events
    were handed to Redis, as before.

    Best effort: if Redis refuses, the events stay in the outbox for the catch-up
    run, and nudges pause for a few seconds so a Redis outage does not slow every
    request down.
    """
    if not events or time.monotonic() < _paused_until:
        return
    state = _nudges.setdefault(asyncio.get_running_loop(), _Nudges())
    state.pending.extend(f"{e.tenant_id}:{e.id}" for e in events)
    mine = state.batch
    while state.done < mine:
        if state.in_flight is not None:
            await asyncio.shield(state.in_flight)
            continue
        refs, state.pending = state.pending, []
        number, state.batch = state.batch, state.batch + 1
        state.in_flight = asyncio.get_running_loop().create_future()
        try:
            await _enqueue(refs)
        finally:
            state.done = number
            state.in_flight.set_result(None)
            state.in_flight = None


async def _enqueue(refs: list[str]) -> None:
    global _paused_until
    try:
        # Off the event loop: a sync Redis call must not stall other requests.
        await asyncio.to_thread(_enqueue_relay, refs)
    except (RedisError, OSError) as exc:
        _paused_until = time.monotonic() + NUDGE_PAUSE_SECONDS
        log.warning("outbox nudge failed (%s); the catch-up relay will deliver %d events",
                    exc, len(refs))


def install_nudge() -> None:
    """Wake the relay after every commit that wrote events (API processes and workers)."""
    on_events_committed(nudge)


def uninstall_nudge() -> None:
    global _paused_until
    remove_events_listener(nudge)
    _paused_until = 0.0
    _nudges.clear()
