"""Delivering events: fan-out to endpoints, claim an attempt, record its outcome.

An attempt is split in three so no database transaction stays open while a
receiver is slow:

1. :func:`claim` (short transaction) marks the delivery ``SENDING`` with a lease
   (``next_attempt_at`` = lease end) and counts the attempt;
2. the job POSTs, outside any transaction;
3. :func:`record_outcome` (short transaction) appends the attempt to the log and
   moves the delivery to ``SUCCEEDED``, ``RETRYING`` (exponential backoff) or
   ``FAILED`` (past the ~3-day retry window).

If the worker dies between 1 and 3, the lease runs out and the retry sweep
claims the delivery again (the lost attempt is logged as ``ABANDONED``). Two
jobs for the same attempt cannot both claim it: the row is locked (``FOR UPDATE
SKIP LOCKED`` on PostgreSQL; SQLite serialises writers) and the second finds it
already ``SENDING`` with a lease in the future.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from qrefund.platform.db import UnitOfWork
from qrefund.platform.outbox.models import DomainEvent
from qrefund.platform.outbox.service import event_by_id
from qrefund.platform.webhooks import lifecycle, service
from qrefund.platform.webhooks.models import (
    AttemptOutcome,
    AttemptTrigger,
    DeliveryStatus,
    EndpointStatus,
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookEndpoint,
)
from qrefund.platform.webhooks.repository import (
    WebhookDeliveryAttemptRepository,
    WebhookDeliveryRepository,
    WebhookEndpointRepository,
)
from qrefund.platform.webhooks.sender import Outcome
from qrefund.tenants.service import lineage

log = logging.getLogger(__name__)

FIRST_RETRY = timedelta(minutes=1)
MAX_RETRY_DELAY = timedelta(hours=6)
# A claim's lease: longer than any request may take (timeouts are seconds).
LEASE = timedelta(minutes=5)
# Persistent failure: no success for this long and at least this many failures in a row.
AUTO_DISABLE_AFTER = timedelta(days=3)
AUTO_DISABLE_MIN_FAILURES = 10
# Successes to a healthy endpoint update last_success_at at most this often (a hot row).
LAST_SUCCESS_RESOLUTION = timedelta(minutes=1)
_MAX_TENANT_DEPTH = 4


@dataclass(frozen=True)
class Claim:
    tenant_id: uuid.UUID
    delivery_id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    number: int
    trigger: AttemptTrigger
    url: str
    body: bytes
    secrets: tuple[str, ...]
    started_at: datetime

    def headers(self, signature: str) -> dict[str, str]:
        return {
            "Qrefund-Event-Id": str(self.event_id),
            "Qrefund-Event-Type": self.event_type,
            "Qrefund-Delivery-Id": str(self.delivery_id),
            "Qrefund-Delivery-Attempt": str(self.number),
            "Qrefund-Signature": signature,
        }


def retry_delay(attempt: int) -> timedelta:
    """1 min, 2, 4, ... capped at 6 h, with +-10 % jitter so failures do not march in step.

    About 20 attempts fit in the three-day window.
    """
    base = min(FIRST_RETRY * (2 ** max(attempt - 1, 0)), MAX_RETRY_DELAY)
    return base * random.uniform(0.9, 1.1)


def render_body(payload: dict[str, object]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode()


def envelope(event: DomainEvent) -> dict[str, object]:
    return {
        "id": str(event.id),
        "type": event.type,
        "createdAt": event.occurred_at.isoformat(),
        "tenantId": str(event.tenant_id),
        "sequence": event.seq,
        "aggregate": {"type": event.aggregate_type, "id": str(event.aggregate_id)},
        "data": event.payload,
    }


def is_public_event(event_type: str) -> bool:
    return event_type.split(".", 1)[0] in service.PUBLIC_EVENT_FAMILIES


def subscribes(endpoint: WebhookEndpoint, event: DomainEvent) -> bool:
    if endpoint.merchant_id is not None and endpoint.merchant_id != event.tenant_id:
        return False
    return any(fnmatch.fnmatchcase(event.type, pattern) for pattern in endpoint.event_types)


async def fan_out(
    uow: UnitOfWork, event_tenant_id: uuid.UUID, event_id: uuid.UUID, now: datetime
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Create the missing deliveries of one event; returns their (tenant_id, id).

    Runs in a cross-tenant scope (an agency endpoint gets a merchant's event).
    Idempotent: an existing (endpoint, event) delivery is left alone.
    """
    event = await event_by_id(uow, event_tenant_id, event_id)
    if event is None or not is_public_event(event.type):
        return []
    # The event's tenant and its ancestors: whose endpoints may receive its events.
    chain = await lineage(uow, event.tenant_id, max_depth=_MAX_TENANT_DEPTH)
    endpoints = [e for e in await WebhookEndpointRepository(uow).active(chain)
                 if subscribes(e, event)]
    if not endpoints:
        return []
    deliveries = WebhookDeliveryRepository(uow)
    existing = await deliveries.endpoints_with_event(chain, event.id)
    created: list[tuple[uuid.UUID, uuid.UUID]] = []
    body = envelope(event)
    for endpoint in endpoints:
        if (endpoint.tenant_id, endpoint.id) in existing:
            continue
        delivery = WebhookDelivery(
            tenant_id=endpoint.tenant_id, endpoint_id=endpoint.id, event_tenant_id=event.tenant_id,
            event_id=event.id, event_type=event.type, payload=body, next_attempt_at=now,
            give_up_at=now + service.RETRY_WINDOW,
        )
        try:
            async with uow.savepoint():
                deliveries.add(delivery)
                await uow.flush()
        except IntegrityError:  # a concurrent fan-out of the same event got there first
            continue
        created.append((delivery.tenant_id, delivery.id))
    return created


async def claim(
    uow: UnitOfWork, tenant_id: uuid.UUID, delivery_id: uuid.UUID, now: datetime
) -> Claim | None:
    """Take the next attempt of a due delivery, or ``None`` when there is nothing to do."""
    deliveries = WebhookDeliveryRepository(uow)
    delivery = await deliveries.claimable(tenant_id, delivery_id)
    if delivery is None or delivery.next_attempt_at is None or delivery.next_attempt_at > now:
        return None
    if not lifecycle.can_deliver(delivery.status, DeliveryStatus.SENDING):
        return None
    endpoint = await service.get_endpoint(uow, tenant_id, delivery.endpoint_id)
    if delivery.status == DeliveryStatus.SENDING.value:
        _log_attempt(uow, delivery, AttemptTrigger.AUTOMATIC, AttemptOutcome.ABANDONED, None,
                     "the worker stopped before it recorded a result", delivery.last_attempt_at)
    if endpoint.status != EndpointStatus.ACTIVE.value:
        delivery.status = DeliveryStatus.CANCELLED.value
        delivery.next_attempt_at = None
        delivery.last_error = "endpoint disabled"
        deliveries.add(delivery)
        return None
    trigger = AttemptTrigger.MANUAL if delivery.manual_requested else AttemptTrigger.AUTOMATIC
    delivery.status = DeliveryStatus.SENDING.value
    delivery.attempts += 1
    delivery.next_attempt_at = now + LEASE
    delivery.last_attempt_at = now
    delivery.manual_requested = False
    deliveries.add(delivery)
    return Claim(
        tenant_id=tenant_id, delivery_id=delivery.id, endpoint_id=endpoint.id,
        event_id=delivery.event_id, event_type=delivery.event_type, number=delivery.attempts,
        trigger=trigger, url=endpoint.url, body=render_body(delivery.payload),
        secrets=tuple(service.secrets_of(endpoint)), started_at=now,
    )


def _log_attempt(
    uow: UnitOfWork, delivery: WebhookDelivery, trigger: AttemptTrigger, outcome: AttemptOutcome,
    result: Outcome | None, error: str | None, started_at: datetime | None,
) -> None:
    WebhookDeliveryAttemptRepository(uow).add(WebhookDeliveryAttempt(
        tenant_id=delivery.tenant_id, delivery_id=delivery.id, number=delivery.attempts,
        trigger=trigger.value, outcome=outcome.value,
        status_code=result.status_code if result else None,
        latency_ms=result.latency_ms if result else None,
        error=(error or None) and error[:500],
        response_excerpt=result.response_excerpt if result else None,
        started_at=started_at or delivery.created_at,
    ))


async def record_outcome(
    uow: UnitOfWork, claimed: Claim, outcome: Outcome, now: datetime
) -> WebhookDelivery | None:
    """Log the attempt and decide what comes next; ``None`` if the claim went stale."""
    delivery = await service.get_delivery(uow, claimed.tenant_id, claimed.delivery_id, lock=True)
    if delivery.status != DeliveryStatus.SENDING.value or delivery.attempts != claimed.number:
        log.warning("webhook delivery %s: attempt %s finished after its lease; result dropped",
                    delivery.id, claimed.number)
        return None
    endpoint = await service.get_endpoint(uow, claimed.tenant_id, claimed.endpoint_id)
    healthy = outcome.ok and _recently_healthy(endpoint, now)
    if not healthy:  # only then is the (shared, hot) endpoint row written, under its lock
        endpoint = await service.get_endpoint(uow, claimed.tenant_id, claimed.endpoint_id,
                                              lock=True)
    _log_attempt(uow, delivery, claimed.trigger,
                 AttemptOutcome.SUCCEEDED if outcome.ok else AttemptOutcome.FAILED,
                 outcome, outcome.error, claimed.started_at)
    delivery.last_status_code = outcome.status_code
    delivery.last_latency_ms = outcome.latency_ms
    delivery.last_error = outcome.error[:500] if outcome.error else None
    if outcome.ok:
        delivery.status = DeliveryStatus.SUCCEEDED.value
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        if not healthy:
            endpoint.consecutive_failures = 0
            endpoint.failing_since = None
            endpoint.last_success_at = now
            WebhookEndpointRepository(uow).add(endpoint)
    else:
        next_at = now + retry_delay(delivery.attempts)
        if next_at > delivery.give_up_at:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED.value, None
        else:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.RETRYING.value, next_at
        endpoint.consecutive_failures += 1
        endpoint.failing_since = endpoint.failing_since or now
        WebhookEndpointRepository(uow).add(endpoint)
        if _persistently_failing(endpoint, now):
            await service.set_disabled(
                uow, endpoint,
                f"disabled after {endpoint.consecutive_failures} failed attempts in a row "
                f"since {endpoint.failing_since:%Y-%m-%d %H:%M} UTC",
            )
    WebhookDeliveryRepository(uow).add(delivery)
    return delivery


def _recently_healthy(endpoint: WebhookEndpoint, now: datetime) -> bool:
    """No failure streak and a success recorded lately: a success changes nothing worth
    a write (``last_success_at`` is kept to within this resolution)."""
    return (
        endpoint.consecutive_failures == 0
        and endpoint.failing_since is None
        and endpoint.last_success_at is not None
        and now - endpoint.last_success_at < LAST_SUCCESS_RESOLUTION
    )


def _persistently_failing(endpoint: WebhookEndpoint, now: datetime) -> bool:
    return (
        endpoint.status == EndpointStatus.ACTIVE.value
        and endpoint.failing_since is not None
        and now - endpoint.failing_since >= AUTO_DISABLE_AFTER
        and endpoint.consecutive_failures >= AUTO_DISABLE_MIN_FAILURES
    )


async def due(uow: UnitOfWork, now: datetime, limit: int) -> list[tuple[uuid.UUID, uuid.UUID, int]]:
    """Deliveries whose next attempt (or lease end) has come: (tenant_id, id, attempts)."""
    return await WebhookDeliveryRepository(uow).due(now, limit)
