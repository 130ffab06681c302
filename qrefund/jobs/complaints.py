"""Complaint jobs: the auto-close of resolved tickets, and late refunds turned complaints.

* :func:`complaint_auto_close` every ``QREFUND_COMPLAINT_AUTO_CLOSE_SECONDS``: closes
  the RESOLVED tickets whose auto-close time has come, in batches of
  :data:`BATCH_SIZE` (one transaction each, row locks in key order), as ``system``.
* ``refund_case.deadline_breached`` / ``refund_case.escalated`` about the completion
  deadline at escalation level 2 or more -> :func:`open_refund_delay_complaint`,
  which opens the case's REFUND_DELAY ticket on the consumer's behalf, once.

(The ticket's own deadlines are watched by :mod:`qrefund.jobs.deadlines`, and its
consumer messages sent by :mod:`qrefund.jobs.notifications`, from the tables of
subjects and providers.)
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from qrefund.jobs import runtime
from qrefund.jobs.registry import QUEUE_MAINTENANCE, EventMessage, JobSpec, every, on_event
from qrefund.jobs.worker import bind
from qrefund.platform.clock import utcnow
from qrefund.platform.complaints import autoclose, refund_delay

log = logging.getLogger(__name__)

BATCH_SIZE = 200  # tickets per transaction: keeps their row locks short
MAX_BATCHES = 100  # per run; the next run carries on
OPEN_REFUND_DELAY = "qrefund.jobs.complaints.open_refund_delay_complaint"
LATE_LEVEL = 2  # the escalation level of a late refund that opens a complaint


@every("complaint_auto_close_seconds", queue=QUEUE_MAINTENANCE, name="complaint-auto-close")
async def complaint_auto_close(now: str | None = None) -> dict[str, int]:
    """Job: close the resolved tickets nobody wrote on for their policy's auto-close days
    (``now``: an ISO time, for tests). Idempotent: a ticket is closed once, and a
    concurrent run skips the tickets this one holds."""
    at = datetime.fromisoformat(now) if now else None
    db, totals = runtime.database(), {"due": 0, "closed": 0, "batches": 0}
    for _ in range(MAX_BATCHES):
        async with db.unit_of_work(runtime.system_scope(autoclose.SYSTEM)) as uow:
            moment = at or utcnow()
            keys = await autoclose.due(uow, moment, BATCH_SIZE)
            result = await autoclose.close_due(uow, keys, now=moment)
        totals["due"] += result.due
        totals["closed"] += result.closed
        totals["batches"] += 1 if keys else 0
        if len(keys) < BATCH_SIZE:
            break
    if totals["closed"]:
        log.info("complaint auto-close: %d closed in %d batches", totals["closed"],
                 totals["batches"])
    return totals


@on_event("refund_case.deadline_breached", "refund_case.escalated")
def on_late_refund(event: EventMessage) -> Iterable[JobSpec]:
    """A refund's completion deadline escalated to level 2: open its complaint (the job id
    is per case, so a later level enqueues nothing while the first job is known)."""
    payload = event.payload
    if payload.get("deadline") != "completion":
        return
    level = int(payload.get("escalationLevel") or 0)
    if level < LATE_LEVEL:
        return
    yield JobSpec(QUEUE_MAINTENANCE, OPEN_REFUND_DELAY,
                  (str(event.tenant_id), str(event.aggregate_id), level),
                  job_id=f"refund-delay-{event.tenant_id}-{event.aggregate_id}",
                  meta={"tenant_id": str(event.tenant_id), "case_id": str(event.aggregate_id)})


async def open_refund_delay_complaint(tenant_id: str, case_id: str, level: int = LATE_LEVEL
                                      ) -> dict[str, Any]:
    """Job: the late refund's REFUND_DELAY ticket (opened now, or found from before)."""
    tid, cid = uuid.UUID(tenant_id), uuid.UUID(case_id)
    bind(tenant_id=tid, case_id=cid)
    scope = runtime.job_scope(tid, refund_delay.OPENED_BY)
    async with runtime.database().unit_of_work(scope) as uow:
        ticket, opened = await refund_delay.open_for_late_refund(uow, tid, cid, level=level)
    if opened and ticket is not None:
        log.info("refund case %s is late: complaint %s opened", cid, ticket.ticket_number)
    return {"ticketId": str(ticket.id) if ticket else None, "opened": opened}
