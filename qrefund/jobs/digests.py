"""Daily digest jobs (smart reminders).

* :func:`digest_sweep`, hourly: pages through the active merchants and agencies and
  enqueues :func:`daily_digest` for each whose digest hour has come in its own time
  zone and whose digest for that local day is not made yet (a deterministic job id
  per tenant-day keeps a second sweep from doubling a live job).
* :func:`daily_digest`: makes the digest (once per tenant-day: its row is the
  record), commits it with its ``digest.daily`` event, then e-mails it through the
  notifications' SMTP adapter when the tenant set an address, and records how that
  went. Quiet digests send nothing.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from qrefund.jobs import runtime
from qrefund.jobs.enqueue import enqueue_unless_live
from qrefund.jobs.registry import QUEUE_NOTIFICATIONS, every
from qrefund.jobs.relay import FAILURE_TTL, JOB_TIMEOUT, RESULT_TTL
from qrefund.jobs.worker import bind
from qrefund.platform.clock import utcnow
from qrefund.platform.digests import service as digests
from qrefund.platform.notifications.models import Channel
from qrefund.platform.notifications.notifier import (
    NotifierError,
    OutgoingMessage,
    notifiers_for,
)

log = logging.getLogger(__name__)

DAILY_DIGEST = "qrefund.jobs.digests.daily_digest"
PAGE = 500  # tenants read per statement by the sweep


@every(3600, queue=QUEUE_NOTIFICATIONS, name="daily-digests")
async def digest_sweep(now: str | None = None) -> dict[str, int]:
    """Job: enqueue the digests now due (``now``: an ISO time, for tests)."""
    at = datetime.fromisoformat(now) if now else utcnow()
    queue, after, enqueued, due = runtime.queue(QUEUE_NOTIFICATIONS), None, 0, 0
    while True:
        async with runtime.database().unit_of_work(runtime.system_scope("digests"),
                                                   readonly=True) as uow:
            page, after = await digests.due(uow, at, after=after, first=PAGE)
        due += len(page)
        for tenant_id, day in page:
            enqueued += enqueue_unless_live(
                queue, DAILY_DIGEST, str(tenant_id), day, now, job_id=f"digest-{tenant_id}-{day}",
                result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL, job_timeout=JOB_TIMEOUT,
                meta={"tenant_id": str(tenant_id)})
        if after is None:
            break
    if due:
        log.info("digest sweep: %d due, %d enqueued", due, enqueued)
    return {"due": due, "enqueued": enqueued}


async def daily_digest(tenant_id: str, day: str, now: str | None = None) -> dict[str, Any]:
    """Job: make one tenant's digest for its local ``day`` and e-mail it."""
    tid = uuid.UUID(tenant_id)
    bind(tenant_id=tid)
    db, settings = runtime.database(), runtime.settings()
    at = datetime.fromisoformat(now) if now else utcnow()
    async with db.unit_of_work(runtime.system_scope("digests")) as uow:
        made = await digests.make(uow, tid, day, at)
    if made is None:
        return {"status": "made before"}
    digest = made.digest
    if made.recipient is None:
        return {"status": digest.status, "sections": len(digest.sections)}
    error = None
    try:
        await notifiers_for(settings)[Channel.EMAIL].send(OutgoingMessage(
            to=made.recipient, subject=made.subject, body=made.body,
            to_masked=digest.recipient_masked or ""))
    except NotifierError as exc:
        error = str(exc)
    async with db.unit_of_work(runtime.system_scope("digests")) as uow:
        await digests.record_sending(uow, tid, day, error)
    log.info("digest %s of tenant %s to %s: %s", day, tid, digest.recipient_masked,
             error or "sent")
    return {"status": "FAILED" if error else "SENT", "sections": len(digest.sections)}
