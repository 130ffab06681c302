"""Webhook endpoints: create, list, disable/enable, rotate the secret; the delivery log.

Endpoints belong to the caller's tenant. An agency endpoint receives the events
of every merchant under the agency, or of one of them (``merchant_id``); the
operator's endpoints reach every tenant. Secrets are stored encrypted and
returned once, at creation and at rotation.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from qrefund.platform import validation
from qrefund.platform.clock import utcnow
from qrefund.platform.config import Settings
from qrefund.platform.crypto import key_ring
from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import CommonError, Conflict, InvalidInput, InvalidState
from qrefund.platform.ids import new_id
from qrefund.platform.outbox.service import record_event
from qrefund.platform.pagination import Page, encode_cursor, parse_cursor
from qrefund.platform.repository import Key
from qrefund.platform.roles import Permission
from qrefund.platform.webhooks import lifecycle, signing, targets
from qrefund.platform.webhooks.errors import WebhookError
from qrefund.platform.webhooks.models import (
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
from qrefund.tenants.service import resolve_merchant

SECRET_PURPOSE = "webhook_endpoint.secret"
# Event families integrators may subscribe to; internal events (keys, tenants) never leave.
PUBLIC_EVENT_FAMILIES = ("refund_case", "complaint", "payout", "refund_policy", "digest")
_EVENT_PATTERN = re.compile(r"^(\*|([a-z][a-z_]*)\.(\*|[a-z][a-z_]*))$")
MAX_EVENT_TYPES = 50
MAX_ENDPOINTS_PER_TENANT = 20
DEFAULT_OVERLAP = timedelta(hours=24)
MAX_OVERLAP = timedelta(days=7)
RETRY_WINDOW = timedelta(days=3)


@dataclass(frozen=True)
class CreateEndpoint:
    url: str
    event_types: Sequence[str]
    merchant_id: uuid.UUID | None = None
    description: str | None = None


def target_policy(settings: Settings) -> tuple[bool, bool]:
    """(allow private targets, https only): production endpoints must use TLS."""
    allow_private = settings.webhook_allow_private_targets
    return allow_private, settings.environment == "production" and not allow_private


def event_types(values: Sequence[str]) -> list[str]:
    """Exact types (``refund_case.approved``), a family (``refund_case.*``) or ``*``."""
    if not values:
        raise InvalidInput("eventTypes needs at least one event type", field=["eventTypes"],
                           code=CommonError.REQUIRED)
    if len(values) > MAX_EVENT_TYPES:
        raise InvalidInput(f"at most {MAX_EVENT_TYPES} event types", field=["eventTypes"],
                           code=CommonError.TOO_MANY)
    cleaned: set[str] = set()
    for raw in values:
        value = (raw or "").strip()
        match = _EVENT_PATTERN.match(value) if len(value) <= 64 else None
        if match is None or (match.group(2) and match.group(2) not in PUBLIC_EVENT_FAMILIES):
            raise InvalidInput(
                f"unknown event type {value[:64]!r}; use one of "
                f"{', '.join(f + '.*' for f in PUBLIC_EVENT_FAMILIES)}, an exact type, or *",
                field=["eventTypes"], code=WebhookError.INVALID_EVENT_TYPE,
            )
        cleaned.add(value)
    return sorted(cleaned)


def secrets_of(endpoint: WebhookEndpoint) -> list[str]:
    """The secrets deliveries are signed with now: the current one, then the previous one
    while its overlap window lasts."""
    ring = key_ring()
    found = [ring.decrypt(endpoint.secret_enc, SECRET_PURPOSE)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_enc and expires is not None and expires > utcnow():
        found.append(ring.decrypt(endpoint.previous_secret_enc, SECRET_PURPOSE))
    return found


async def create_endpoint(
    uow: UnitOfWork, cmd: CreateEndpoint, settings: Settings
) -> tuple[WebhookEndpoint, str]:
    """Returns the endpoint and its signing secret, which is never shown again."""
    scope = uow.scope
    scope.require(Permission.MANAGE_WEBHOOKS)
    owner = scope.actor_tenant_id
    if owner is None:
        raise InvalidInput("only a tenant's key can own webhook endpoints",
                           code=WebhookError.NO_TENANT)
    merchant_id: uuid.UUID | None = None
    if cmd.merchant_id is not None:
        merchant = await resolve_merchant(uow, cmd.merchant_id)
        merchant_id = None if merchant.id == owner else merchant.id
    types = event_types(cmd.event_types)
    description = validation.text(cmd.description, "description", max_len=200, required=False)
    allow_private, https_only = target_policy(settings)
    url = await targets.validate_for_endpoint(cmd.url, allow_private=allow_private,
                                              https_only=https_only)
    await _check_room(uow, owner, url, merchant_id)
    secret = signing.new_secret()
    endpoint = WebhookEndpoint(
        tenant_id=owner, id=new_id(), url=url, description=description, event_types=types,
        merchant_id=merchant_id, secret_enc=key_ring().encrypt(secret, SECRET_PURPOSE),
        created_by=scope.actor,
    )
    WebhookEndpointRepository(uow).add(endpoint)
    await _endpoint_event(uow, endpoint, "created", {"url": url, "eventTypes": types})
    return endpoint, secret


async def _check_room(
    uow: UnitOfWork, owner: uuid.UUID, url: str, merchant_id: uuid.UUID | None
) -> None:
    rows = await WebhookEndpointRepository(uow).active([owner])
    if any(e.url == url and e.merchant_id == merchant_id for e in rows):
        raise Conflict("an active endpoint already has this url", field=["url"],
                       code=WebhookError.DUPLICATE_ENDPOINT)
    if len(rows) >= MAX_ENDPOINTS_PER_TENANT:
        raise Conflict(f"at most {MAX_ENDPOINTS_PER_TENANT} active endpoints per tenant",
                       code=WebhookError.ENDPOINT_LIMIT_REACHED)


async def _endpoint_event(
    uow: UnitOfWork, endpoint: WebhookEndpoint, what: str, extra: dict[str, object] | None = None
) -> None:
    payload: dict[str, object] = {"endpointId": str(endpoint.id), "status": endpoint.status}
    if endpoint.merchant_id is not None:
        payload["merchantId"] = str(endpoint.merchant_id)
    await record_event(uow, tenant_id=endpoint.tenant_id, type=f"webhook_endpoint.{what}",
                       aggregate_type="webhook_endpoint", aggregate_id=endpoint.id,
                       payload={**payload, **(extra or {})})


async def get_endpoint(
    uow: UnitOfWork, tenant_id: uuid.UUID, endpoint_id: uuid.UUID, *, lock: bool = False
) -> WebhookEndpoint:
    """Another tenant's endpoint is *not found*; ``lock`` takes its row lock."""
    return await WebhookEndpointRepository(uow).require(
        tenant_id, endpoint_id, lock=lock, what="webhook endpoint", field=None)


async def endpoints_by_key(uow: UnitOfWork, keys: Sequence[Key]) -> dict[Key, WebhookEndpoint]:
    """Endpoints by (tenant, id) in one statement; those outside the scope are left out."""
    return await WebhookEndpointRepository(uow).by_keys(keys)


async def disable_endpoint(
    uow: UnitOfWork, tenant_id: uuid.UUID, endpoint_id: uuid.UUID, reason: str | None
) -> WebhookEndpoint:
    uow.scope.require(Permission.MANAGE_WEBHOOKS)
    endpoint = await get_endpoint(uow, tenant_id, endpoint_id, lock=True)
    note = validation.text(reason, "reason", max_len=200, required=False)
    await set_disabled(uow, endpoint, note or f"disabled by {uow.scope.actor}")
    return endpoint


async def set_disabled(uow: UnitOfWork, endpoint: WebhookEndpoint, reason: str) -> None:
    """Also used by the delivery job when an endpoint keeps failing."""
    lifecycle.check_endpoint(endpoint.status, EndpointStatus.DISABLED)
    endpoint.status = EndpointStatus.DISABLED.value
    endpoint.disabled_at = utcnow()
    endpoint.disabled_reason = reason[:200]
    WebhookEndpointRepository(uow).add(endpoint)
    await _endpoint_event(uow, endpoint, "disabled", {"reason": endpoint.disabled_reason})


async def enable_endpoint(
    uow: UnitOfWork, tenant_id: uuid.UUID, endpoint_id: uuid.UUID
) -> WebhookEndpoint:
    """Deliveries cancelled while disabled stay cancelled; redeliver them one by one."""
    uow.scope.require(Permission.MANAGE_WEBHOOKS)
    endpoint = await get_endpoint(uow, tenant_id, endpoint_id, lock=True)
    lifecycle.check_endpoint(endpoint.status, EndpointStatus.ACTIVE)
    endpoint.status = EndpointStatus.ACTIVE.value
    endpoint.disabled_at = None
    endpoint.disabled_reason = None
    endpoint.consecutive_failures = 0
    endpoint.failing_since = None
    WebhookEndpointRepository(uow).add(endpoint)
    await _endpoint_event(uow, endpoint, "enabled")
    return endpoint


async def rotate_secret(
    uow: UnitOfWork, tenant_id: uuid.UUID, endpoint_id: uuid.UUID, overlap: timedelta | None
) -> tuple[WebhookEndpoint, str]:
    """A new secret now; the old one stays valid (both signatures sent) for ``overlap``.

    Rotating again during an overlap drops the oldest secret at once: at most two
    secrets are ever valid.
    """
    uow.scope.require(Permission.MANAGE_WEBHOOKS)
    window = DEFAULT_OVERLAP if overlap is None else overlap
    if window < timedelta(0) or window > MAX_OVERLAP:
        raise InvalidInput(f"overlap must be between 0 and {MAX_OVERLAP.days * 24} hours",
                           field=["overlapHours"], code=WebhookError.INVALID_OVERLAP)
    endpoint = await get_endpoint(uow, tenant_id, endpoint_id, lock=True)
    now = utcnow()
    secret = signing.new_secret()
    endpoint.previous_secret_enc = endpoint.secret_enc if window else None
    endpoint.previous_secret_expires_at = now + window if window else None
    endpoint.secret_enc = key_ring().encrypt(secret, SECRET_PURPOSE)
    endpoint.secret_rotated_at = now
    WebhookEndpointRepository(uow).add(endpoint)
    await _endpoint_event(uow, endpoint, "secret_rotated",
                          {"overlapSeconds": int(window.total_seconds())})
    return endpoint, secret


async def list_endpoints(
    uow: UnitOfWork, *, tenant_ids: Sequence[uuid.UUID] | None, status: EndpointStatus | None,
    first: int, after: str | None,
) -> Page[WebhookEndpoint]:
    """Oldest first (ids are time-ordered)."""
    uow.scope.require(Permission.READ)
    rows = await WebhookEndpointRepository(uow).page(
        owners=tenant_ids, status=status.value if status is not None else None,
        after=_cursor_id(after) if after else None, first=first)
    return Page.from_rows(rows, first=first, after=after, cursor=lambda r: encode_cursor([r.id]))


def _cursor_id(after: str) -> uuid.UUID:
    (last,) = parse_cursor(after, uuid.UUID)
    return last  # type: ignore[no-any-return]


async def list_deliveries(
    uow: UnitOfWork, tenant_id: uuid.UUID, endpoint_id: uuid.UUID, *,
    statuses: Sequence[DeliveryStatus] | None, first: int, after: str | None,
) -> Page[WebhookDelivery]:
    """Newest first; the endpoint must be in scope (else *not found*)."""
    uow.scope.require(Permission.READ)
    await get_endpoint(uow, tenant_id, endpoint_id)
    rows = await WebhookDeliveryRepository(uow).page(
        tenant_id, endpoint_id, statuses=_values(statuses),
        before=_cursor_id(after) if after else None, first=first)
    return Page.from_rows(rows, first=first, after=after, cursor=lambda r: encode_cursor([r.id]))


async def count_deliveries(
    uow: UnitOfWork, tenant_id: uuid.UUID, endpoint_id: uuid.UUID,
    statuses: Sequence[DeliveryStatus] | None,
) -> int:
    """Deliveries of an endpoint (0 for one out of scope: callers list the page first)."""
    return await WebhookDeliveryRepository(uow).count_of_endpoint(
        tenant_id, endpoint_id, _values(statuses))


def _values(statuses: Sequence[DeliveryStatus] | None) -> list[str] | None:
    return [s.value for s in statuses] if statuses else None


async def get_delivery(
    uow: UnitOfWork, tenant_id: uuid.UUID, delivery_id: uuid.UUID, *, lock: bool = False
) -> WebhookDelivery:
    """Another tenant's delivery is *not found*; ``lock`` takes its row lock."""
    return await WebhookDeliveryRepository(uow).require(
        tenant_id, delivery_id, lock=lock, what="webhook delivery", field=None)


async def attempts_by_delivery(uow: UnitOfWork, keys: Sequence[Key]
                               ) -> dict[Key, list[WebhookDeliveryAttempt]]:
    """The attempt log of each (tenant, delivery), oldest first, in one statement;
    deliveries outside the scope get none."""
    return await WebhookDeliveryAttemptRepository(uow).by_deliveries(keys)


async def redeliver(
    uow: UnitOfWork, tenant_id: uuid.UUID, delivery_id: uuid.UUID
) -> WebhookDelivery:
    """Send the event to the endpoint again, now, with a fresh retry window.

    The delivery keeps its id and event id (receivers de-duplicate on
    ``Qrefund-Event-Id``); the job is enqueued through the outbox after commit.
    """
    uow.scope.require(Permission.MANAGE_WEBHOOKS)
    delivery = await get_delivery(uow, tenant_id, delivery_id, lock=True)
    endpoint = await get_endpoint(uow, tenant_id, delivery.endpoint_id)
    if endpoint.status != EndpointStatus.ACTIVE.value:
        raise InvalidState("the endpoint is disabled; enable it first",
                           code=WebhookError.ENDPOINT_DISABLED)
    lifecycle.check_delivery(delivery.status, DeliveryStatus.PENDING)
    now = utcnow()
    delivery.status = DeliveryStatus.PENDING.value
    delivery.next_attempt_at = now
    delivery.give_up_at = now + RETRY_WINDOW
    delivery.manual_requested = True
    WebhookDeliveryRepository(uow).add(delivery)
    await record_event(uow, tenant_id=tenant_id, type="webhook_delivery.redelivery_requested",
                       aggregate_type="webhook_delivery", aggregate_id=delivery.id,
                       payload={"deliveryId": str(delivery.id), "endpointId": str(endpoint.id),
                                "eventId": str(delivery.event_id)})
    return delivery

