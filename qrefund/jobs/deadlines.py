"""Deadline jobs: keep timers in step with their subjects, and the periodic sweep.

* every event of a deadline subject's family (``refund_case.*`` ...; the families
  come from :data:`~qrefund.platform.deadlines.subjects.SUBJECTS`), except the
  events the subject writes itself when warned or escalated -> :func:`sync_deadline`,
  which re-reads the subject and updates its timers (a case's is created at
  submission, moved by extensions and pauses, switched to the completion deadline
  at approval, stopped when the case closes);
* :func:`deadline_sweep` every ``QREFUND_DEADLINE_SWEEP_SECONDS``: claims the
  timers due (index-backed) in batches and enqueues one :func:`deadline_batch` job
  per batch, so workers share the warnings, breaches and escalations. A batch runs
  in one transaction; if anything in it raises, it runs again with one savepoint
  per subject, so one bad case is logged (and retried later) while the rest go
  through.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from qrefund.jobs import runtime
from qrefund.jobs.registry import (
    QUEUE_MAINTENANCE,
    EventMessage,
    Handler,
    JobSpec,
    every,
    on_event,
)
from qrefund.jobs.relay import FAILURE_TTL, JOB_TIMEOUT
from qrefund.jobs.worker import bind
from qrefund.platform.clock import utcnow
from qrefund.platform.config import Settings
from qrefund.platform.deadlines import service as deadlines
from qrefund.platform.deadlines.service import SweepPolicy, SweepResult, TimerKey
from qrefund.platform.deadlines.subject import Subject
from qrefund.platform.deadlines.subjects import SUBJECTS

log = logging.getLogger(__name__)

BATCH_SIZE = 250  # per job and transaction: keeps row locks (cases, counters) short
MAX_BATCHES = 400  # per run; the next run carries on
# A claimed batch whose job has not run by then comes due again (lost job, backlog).
CLAIM_LEASE = timedelta(minutes=5)
SYNC = "qrefund.jobs.deadlines.sync_deadline"


def policy(settings: Settings | None = None) -> SweepPolicy:
    settings = settings or runtime.settings()
    return SweepPolicy(warning_fraction=settings.deadline_warning_fraction,
                       reescalate=timedelta(hours=settings.deadline_reescalate_hours))


def watch(subject: Subject) -> Handler:
    """Register the handler that re-syncs the timers of ``subject``'s family on its
    events (called below for every subject of the table). The handler looks the
    subject up when an event comes: a family no longer in the table starts nothing."""
    family = subject.event_family

    def handler(event: EventMessage) -> Iterable[JobSpec]:
        watched = SUBJECTS.by_family(family)
        if watched is None or event.type in watched.own_events:
            return
        yield JobSpec(QUEUE_MAINTENANCE, SYNC,
                      (watched.type, str(event.tenant_id), str(event.aggregate_id)))

    handler.__name__ = handler.__qualname__ = f"on_{family}_event"
    return on_event(f"{family}.*")(handler)


for _subject in SUBJECTS:
    watch(_subject)


async def sync_deadline(subject_type: str, tenant_id: str, subject_id: str
                        ) -> dict[str, str | None]:
    """Job: bring one subject's deadline timers in step with the subject. Returns when
    each timer is looked at next (None: stopped)."""
    tid, sid = uuid.UUID(tenant_id), uuid.UUID(subject_id)
    bind(tenant_id=tid, case_id=sid if subject_type == "refund_case" else None)
    async with runtime.database().unit_of_work(runtime.job_scope(tid, "deadlines")) as uow:
        timers = await deadlines.sync(uow, subject_type, tid, sid, policy())
    return {name: t.next_check_at.isoformat() if t.next_check_at else None
            for name, t in timers.items()}


def _refs(keys: list[TimerKey]) -> list[str]:
    return [":".join(str(part) for part in key) for key in keys]


def _keys(refs: list[str]) -> list[TimerKey]:
    keys = []
    for ref in refs:
        # tenant:type:subject:name; a batch enqueued before timers had names has no
        # name part (those timers are the refund cases' ``sla``).
        tenant, kind, subject, *name = ref.split(":", 3)
        keys.append((uuid.UUID(tenant), kind, uuid.UUID(subject), name[0] if name else "sla"))
    return keys


async def process_batch(claimed: list[TimerKey], lease: datetime, *, now: datetime | None = None,
                        sweep_policy: SweepPolicy | None = None) -> SweepResult:
    """One claimed batch: fast in one transaction, or subject by subject if that raised."""
    db, rules = runtime.database(), sweep_policy or policy()
    scope = runtime.system_scope("deadline-sweep")
    try:
        async with db.unit_of_work(scope) as uow:
            return await deadlines.sweep(uow, rules, claimed, lease, now=now)
    except Exception:
        log.warning("deadline batch failed; running it again subject by subject", exc_info=True)
    async with db.unit_of_work(scope) as uow:
        return await deadlines.sweep(uow, rules, claimed, lease, now=now, isolate=True)


async def deadline_batch(claimed: list[str], lease: str, now: str | None = None
                         ) -> dict[str, int]:
    """Job: warn, breach and escalate the timers one sweep claimed for this batch."""
    result = await process_batch(_keys(claimed), datetime.fromisoformat(lease),
                                 now=datetime.fromisoformat(now) if now else None)
    if result.due:
        log.info("deadline batch: %d due, %d warned, %d breached, %d escalated, %d resynced, "
                 "%d failed", result.due, result.warned, result.breached, result.escalated,
                 result.resynced, len(result.failed))
    return {"due": result.due, "warned": result.warned, "breached": result.breached,
            "escalated": result.escalated, "resynced": result.resynced,
            "failed": len(result.failed)}


async def claim_batches(at: datetime | None = None) -> list[tuple[list[TimerKey], datetime]]:
    """Claim every due timer, in batches (each batch: its keys and its lease)."""
    db, now = runtime.database(), at or utcnow()
    batches: list[tuple[list[TimerKey], datetime]] = []
    for _ in range(MAX_BATCHES):
        # The lease runs on the sweep's clock: a sweep told another time (tests,
        # replays) must not hand out claims that are already due on that clock.
        lease = (at if at is not None else utcnow()) + CLAIM_LEASE
        async with db.unit_of_work(runtime.system_scope("deadline-sweep")) as uow:
            keys = await deadlines.claim_due(uow, now, BATCH_SIZE, lease)
        if keys:
            batches.append((keys, lease))
        if len(keys) < BATCH_SIZE:
            break
    return batches


@every("deadline_sweep_seconds", queue=QUEUE_MAINTENANCE, name="deadline-sweep")
async def deadline_sweep(now: str | None = None) -> dict[str, Any]:
    """Job: claim the due deadlines and enqueue one ``deadline_batch`` job per batch, so
    any number of workers share the work (``now``: an ISO time, for tests)."""
    batches = await claim_batches(datetime.fromisoformat(now) if now else None)
    queue, job_ids = runtime.queue(QUEUE_MAINTENANCE), []
    for keys, lease in batches:
        job = queue.enqueue("qrefund.jobs.deadlines.deadline_batch", _refs(keys),
                            lease.isoformat(), now, result_ttl=3600, failure_ttl=FAILURE_TTL,
                            job_timeout=JOB_TIMEOUT, meta={"reason": "deadline-sweep"})
        job_ids.append(job.id)
    if job_ids:
        runtime.enqueued()
        log.info("deadline sweep: %d due in %d batches", sum(len(k) for k, _ in batches),
                 len(batches))
    return {"due": sum(len(k) for k, _ in batches), "jobs": job_ids}
