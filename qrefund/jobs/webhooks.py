"""RQ job functions for webhooks. They take string ids, reload state, and do
nothing when the state has moved on, so running one twice is harmless.

* :func:`fan_out_event` (per committed public event, enqueued by the relay's
  handler): creates the deliveries and enqueues one :func:`deliver` per delivery.
* :func:`deliver`: one HTTP attempt of one delivery (claim, POST, record).
* :func:`retry_due_deliveries` (periodic): enqueues deliveries whose next
  attempt has come. Retry times live in the database (``next_attempt_at``), not
  only in Redis, so a Redis restart loses no retry.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable

from redis.exceptions import RedisError
from rq import get_current_job
from rq.exceptions import DuplicateJobError

from qrefund.jobs import runtime
from qrefund.jobs.registry import (
    QUEUE_MAINTENANCE,
    QUEUE_NOTIFICATIONS,
    EventMessage,
    JobSpec,
    every,
    on_event,
)
from qrefund.platform.clock import utcnow
from qrefund.platform.webhooks import delivery, sender, service, signing
from qrefund.platform.webhooks.service import PUBLIC_EVENT_FAMILIES

log = logging.getLogger(__name__)

DELIVER = "qrefund.jobs.webhooks.deliver"
FAN_OUT = "qrefund.jobs.webhooks.fan_out_event"
RETRY_SWEEP = "qrefund.jobs.webhooks.retry_due_deliveries"
DELIVERY_QUEUE = QUEUE_NOTIFICATIONS
SWEEP_QUEUE = QUEUE_MAINTENANCE
SWEEP_INTERVAL_SECONDS = 60
SWEEP_BATCH = 500


def delivery_job_id(delivery_id: uuid.UUID | str, attempt: int) -> str:
    """One job id per attempt: the sweep and the fan-out never queue the same attempt twice."""
    return f"webhook-delivery-{delivery_id}-{attempt}"


async def fan_out_event(tenant_id: str, event_id: str) -> int:
    now = utcnow()
    async with runtime.database().unit_of_work(runtime.system_scope("webhooks")) as uow:
        created = await delivery.fan_out(uow, uuid.UUID(tenant_id), uuid.UUID(event_id), now)
    if created:
        log.info("event %s (tenant %s): %d webhook deliveries", event_id, tenant_id, len(created))
        await _dispatch((t, d, 1) for t, d in created)
    return len(created)


async def deliver(tenant_id: str, delivery_id: str) -> str:
    settings = runtime.settings()
    db = runtime.database()
    tid, did = uuid.UUID(tenant_id), uuid.UUID(delivery_id)
    async with db.unit_of_work(runtime.job_scope(tid, "webhooks")) as uow:
        claimed = await delivery.claim(uow, tid, did, utcnow())
    if claimed is None:
        return "nothing to do"
    allow_private, https_only = service.target_policy(settings)
    signature = signing.signature_header(claimed.body, claimed.secrets)
    outcome = await sender.post(
        claimed.url, claimed.body, claimed.headers(signature),
        timeout_seconds=settings.webhook_timeout_seconds, allow_private=allow_private,
        https_only=https_only,
    )
    async with db.unit_of_work(runtime.job_scope(tid, "webhooks")) as uow:
        result = await delivery.record_outcome(uow, claimed, outcome, utcnow())
    status = result.status if result is not None else "stale"
    log.info("webhook delivery %s (tenant %s, event %s) attempt %d: %s -> %s",
             did, tid, claimed.event_id, claimed.number,
             outcome.status_code or outcome.error, status)
    return status


@every(SWEEP_INTERVAL_SECONDS, queue=SWEEP_QUEUE, name="webhook-retries", timeout=300)
async def retry_due_deliveries(limit: int = SWEEP_BATCH) -> int:
    async with runtime.database().unit_of_work(
        runtime.system_scope("webhooks"), readonly=True
    ) as uow:
        items = await delivery.due(uow, utcnow(), limit)
    await _dispatch((t, d, attempts + 1) for t, d, attempts in items)
    return len(items)


async def _dispatch(items: Iterable[tuple[uuid.UUID, uuid.UUID, int]]) -> None:
    """Enqueue one deliver job per delivery (on the running worker's Redis, if any).

    If Redis cannot take them, the deliveries stay due in the database and the
    next retry sweep enqueues them.
    """
    current = get_current_job()
    queue = runtime.queue(DELIVERY_QUEUE, current.connection if current else None)
    try:
        for tenant_id, delivery_id, attempt in items:
            try:
                queue.enqueue_call(
                    DELIVER, args=(str(tenant_id), str(delivery_id)),
                    job_id=delivery_job_id(delivery_id, attempt), unique=True,
                    result_ttl=60, timeout=120, meta={"tenant_id": str(tenant_id)},
                    description=f"webhook delivery {delivery_id} attempt {attempt} "
                                f"(tenant {tenant_id})",
                )
            except DuplicateJobError:
                continue
    except RedisError:
        log.warning("could not enqueue webhook deliveries; the retry sweep will", exc_info=True)
        return
    runtime.enqueued()


# -- outbox handlers: which jobs a committed event starts (pure, no I/O) --------------

@on_event(*(f"{family}.*" for family in PUBLIC_EVENT_FAMILIES))
def fan_out_to_endpoints(message: EventMessage) -> list[JobSpec]:
    # Whether any endpoint subscribes is the job's question: handlers do no I/O.
    return [JobSpec(DELIVERY_QUEUE, FAN_OUT, (str(message.tenant_id), str(message.event_id)))]


@on_event("webhook_delivery.redelivery_requested")
def send_redelivery(message: EventMessage) -> list[JobSpec]:
    delivery_id = str(message.payload.get("deliveryId") or message.aggregate_id)
    return [JobSpec(DELIVERY_QUEUE, DELIVER, (str(message.tenant_id), delivery_id))]
