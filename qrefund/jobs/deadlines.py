"""Deadline jobs: keep timers in step with cases, and the periodic sweep.

* every ``refund_case.*`` event (except the sweep's own) -> :func:`sync_deadline`,
  which re-reads the case and updates its timer (created at submission, moved by
  extensions and pauses, switched to the completion deadline at approval,
  stopped when the case closes);
* :func:`deadline_sweep` every ``QREFUND_DEADLINE_SWEEP_SECONDS``: warnings,
  breaches, escalations for the timers due, in batches. A batch runs in one
  transaction; if anything in it raises, it runs again with one savepoint per
  case, so one bad case is logged (and retried later) while the rest go through.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from qrefund.jobs import runtime
from qrefund.jobs.registry import QUEUE_MAINTENANCE, EventMessage, JobSpec, every, on_event
from qrefund.jobs.worker import bind
from qrefund.platform.config import Settings
from qrefund.platform.deadlines import service as deadlines
from qrefund.platform.deadlines.service import SweepPolicy, SweepResult

log = logging.getLogger(__name__)

BATCH_SIZE = 250  # per transaction: keeps row locks (cases, tenant counters) short
MAX_BATCHES = 100  # per run; the next run carries on
# The sweep's own events: they change nothing a timer depends on.
_OWN_EVENTS = frozenset({"refund_case.deadline_warning", "refund_case.deadline_breached",
                         "refund_case.escalated", "refund_case.agency_notified"})


def policy(settings: Settings | None = None) -> SweepPolicy:
    settings = settings or runtime.settings()
    return SweepPolicy(warning_fraction=settings.deadline_warning_fraction,
                       reescalate=timedelta(hours=settings.deadline_reescalate_hours))


@on_event("refund_case.*")
def on_case_event(event: EventMessage) -> Iterable[JobSpec]:
    if event.type in _OWN_EVENTS:
        return
    yield JobSpec(QUEUE_MAINTENANCE, "qrefund.jobs.deadlines.sync_deadline",
                  ("refund_case", str(event.tenant_id), str(event.aggregate_id)))


async def sync_deadline(subject_type: str, tenant_id: str, subject_id: str) -> str | None:
    """Job: bring one subject's deadline timer in step with the subject."""
    tid, sid = uuid.UUID(tenant_id), uuid.UUID(subject_id)
    bind(tenant_id=tid, case_id=sid if subject_type == "refund_case" else None)
    async with runtime.database().unit_of_work(runtime.job_scope(tid, "deadlines")) as uow:
        timer = await deadlines.sync(uow, subject_type, tid, sid, policy())
    return timer.next_check_at.isoformat() if timer and timer.next_check_at else None


async def sweep_once(*, now: datetime | None = None, limit: int = BATCH_SIZE,
                     sweep_policy: SweepPolicy | None = None) -> SweepResult:
    """One batch: fast in one transaction, or case by case if that raised."""
    db, rules = runtime.database(), sweep_policy or policy()
    scope = runtime.system_scope("deadline-sweep")
    try:
        async with db.unit_of_work(scope) as uow:
            return await deadlines.sweep(uow, rules, now=now, limit=limit)
    except Exception:
        log.warning("deadline sweep batch failed; running it again case by case", exc_info=True)
    async with db.unit_of_work(scope) as uow:
        return await deadlines.sweep(uow, rules, now=now, limit=limit, isolate=True)


@every("deadline_sweep_seconds", queue=QUEUE_MAINTENANCE, name="deadline-sweep")
async def deadline_sweep(now: str | None = None) -> dict[str, int]:
    """Job: warn, breach and escalate every due deadline (``now``: ISO time, for tests)."""
    at = datetime.fromisoformat(now) if now else None
    totals = SweepResult()
    for _ in range(MAX_BATCHES):
        result = await sweep_once(now=at)
        totals.due += result.due
        totals.warned += result.warned
        totals.breached += result.breached
        totals.escalated += result.escalated
        totals.resynced += result.resynced
        totals.failed += result.failed
        if result.due < BATCH_SIZE:
            break
    if totals.due:
        log.info("deadline sweep: %d due, %d warned, %d breached, %d escalated, %d resynced, "
                 "%d failed", totals.due, totals.warned, totals.breached, totals.escalated,
                 totals.resynced, len(totals.failed))
    return {"due": totals.due, "warned": totals.warned, "breached": totals.breached,
            "escalated": totals.escalated, "resynced": totals.resynced,
            "failed": len(totals.failed)}
