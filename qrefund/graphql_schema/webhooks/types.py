"""GraphQL types for webhook endpoints, deliveries and delivery attempts."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TypeVar, cast

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.scalars import JSON

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.context import Context, Info
from qrefund.graphql_schema.loaders import tenant_loader
from qrefund.graphql_schema.relay import Node
from qrefund.graphql_schema.tenants.types import TenantType
from qrefund.platform.db import UnitOfWork
from qrefund.platform.webhooks import service
from qrefund.platform.webhooks.models import (
    AttemptOutcome,
    AttemptTrigger,
    DeliveryStatus,
    EndpointStatus,
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookEndpoint,
)

WebhookEndpointStatus = strawberry.enum(EndpointStatus, name="WebhookEndpointStatus")
WebhookDeliveryStatus = strawberry.enum(DeliveryStatus, name="WebhookDeliveryStatus")
WebhookAttemptOutcome = strawberry.enum(AttemptOutcome, name="WebhookAttemptOutcome")
WebhookAttemptTrigger = strawberry.enum(AttemptTrigger, name="WebhookAttemptTrigger")

Key = tuple[uuid.UUID, uuid.UUID]
V = TypeVar("V")


def _batched(ctx: Context, fetch: Callable[[UnitOfWork, Sequence[Key]], Awaitable[dict[Key, V]]],
             default: Callable[[], V]) -> DataLoader[Key, V]:
    """Every key asked for in one tick, read by one service call (one statement)."""

    async def load(keys: Sequence[Key]) -> list[V]:
        async with ctx.reading() as uow:
            found = await fetch(uow, keys)
        return [found.get(k, default()) for k in keys]

    return DataLoader(load_fn=load)


def endpoint_loader(ctx: Context) -> DataLoader[Key, WebhookEndpoint | None]:
    return ctx.loader("webhook_endpoint_by_id",  # type: ignore[no-any-return]
                      lambda c: _batched(c, service.endpoints_by_key, lambda: None))


def attempts_loader(ctx: Context) -> DataLoader[Key, list[WebhookDeliveryAttempt]]:
    """Every attempt of every delivery on a page, in one statement."""
    return ctx.loader("webhook_attempts_by_delivery",  # type: ignore[no-any-return]
                      lambda c: _batched(c, service.attempts_by_delivery, list))


@strawberry.type(name="WebhookEndpoint")
class WebhookEndpointType(Node):
    url: str
    description: str | None
    event_types: list[str]
    status: WebhookEndpointStatus  # type: ignore[valid-type]
    owner_id: strawberry.ID = strawberry.field(description="The tenant that owns the endpoint.")
    merchant_id: strawberry.ID | None = strawberry.field(
        description="Set on agency endpoints limited to one merchant's events.")
    consecutive_failures: int
    failing_since: datetime | None
    last_success_at: datetime | None
    disabled_at: datetime | None
    disabled_reason: str | None
    secret_rotated_at: datetime | None
    previous_secret_expires_at: datetime | None = strawberry.field(
        description="Until then deliveries also carry a signature made with the previous secret.")
    created_at: datetime
    _tenant_id: strawberry.Private[uuid.UUID]
    _merchant_id: strawberry.Private[uuid.UUID | None]

    @classmethod
    def of(cls, e: WebhookEndpoint) -> WebhookEndpointType:
        return cls(
            id=ids.encode("WebhookEndpoint", e.tenant_id, e.id), url=e.url,
            description=e.description, event_types=list(e.event_types),
            status=EndpointStatus(e.status), owner_id=ids.encode("Tenant", e.tenant_id),
            merchant_id=ids.encode("Tenant", e.merchant_id) if e.merchant_id else None,
            consecutive_failures=e.consecutive_failures, failing_since=e.failing_since,
            last_success_at=e.last_success_at, disabled_at=e.disabled_at,
            disabled_reason=e.disabled_reason, secret_rotated_at=e.secret_rotated_at,
            previous_secret_expires_at=e.previous_secret_expires_at, created_at=e.created_at,
            _tenant_id=e.tenant_id, _merchant_id=e.merchant_id,
        )

    @strawberry.field
    async def owner(self, info: Info) -> TenantType | None:
        tenant = await tenant_loader(info.context).load(self._tenant_id)
        return TenantType.of(tenant) if tenant else None

    @strawberry.field
    async def merchant(self, info: Info) -> TenantType | None:
        if self._merchant_id is None:
            return None
        tenant = await tenant_loader(info.context).load(self._merchant_id)
        return TenantType.of(tenant) if tenant else None


@strawberry.type(name="WebhookDeliveryAttempt")
class WebhookDeliveryAttemptType:
    number: int
    trigger: WebhookAttemptTrigger  # type: ignore[valid-type]
    outcome: WebhookAttemptOutcome  # type: ignore[valid-type]
    status_code: int | None
    latency_ms: int | None
    error: str | None
    response_excerpt: str | None = strawberry.field(
        description="The first kilobyte of the receiver's answer.")
    started_at: datetime

    @classmethod
    def of(cls, a: WebhookDeliveryAttempt) -> WebhookDeliveryAttemptType:
        return cls(number=a.number, trigger=AttemptTrigger(a.trigger),
                   outcome=AttemptOutcome(a.outcome), status_code=a.status_code,
                   latency_ms=a.latency_ms, error=a.error, response_excerpt=a.response_excerpt,
                   started_at=a.started_at)


@strawberry.type(name="WebhookDelivery")
class WebhookDeliveryType(Node):
    event_id: str = strawberry.field(
        description="The event's id, sent as Qrefund-Event-Id: receivers de-duplicate on it.")
    event_type: str
    status: WebhookDeliveryStatus  # type: ignore[valid-type]
    attempt: int = strawberry.field(description="Attempts made so far.")
    status_code: int | None = strawberry.field(description="HTTP status of the last attempt.")
    latency_ms: int | None = strawberry.field(description="Duration of the last attempt.")
    error: str | None = strawberry.field(description="Why the last attempt failed.")
    last_attempt_at: datetime | None
    next_retry_at: datetime | None = strawberry.field(
        description="When the next attempt is due (null once delivered or given up).")
    retry_until: datetime
    delivered_at: datetime | None
    created_at: datetime
    payload: JSON = strawberry.field(description="The JSON body every attempt sends.")
    endpoint_id: strawberry.ID
    _tenant_id: strawberry.Private[uuid.UUID]
    _id: strawberry.Private[uuid.UUID]
    _endpoint_id: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, d: WebhookDelivery) -> WebhookDeliveryType:
        leased = d.status == DeliveryStatus.SENDING.value
        return cls(
            id=ids.encode("WebhookDelivery", d.tenant_id, d.id), event_id=str(d.event_id),
            event_type=d.event_type, status=DeliveryStatus(d.status), attempt=d.attempts,
            status_code=d.last_status_code, latency_ms=d.last_latency_ms, error=d.last_error,
            last_attempt_at=d.last_attempt_at,
            next_retry_at=None if leased else d.next_attempt_at, retry_until=d.give_up_at,
            delivered_at=d.delivered_at, created_at=d.created_at,
            payload=cast(JSON, d.payload),
            endpoint_id=ids.encode("WebhookEndpoint", d.tenant_id, d.endpoint_id),
            _tenant_id=d.tenant_id, _id=d.id, _endpoint_id=d.endpoint_id,
        )

    @strawberry.field(description="Every attempt, oldest first.")
    async def attempts(self, info: Info) -> list[WebhookDeliveryAttemptType]:
        rows = await attempts_loader(info.context).load((self._tenant_id, self._id))
        return [WebhookDeliveryAttemptType.of(a) for a in rows]

    @strawberry.field
    async def endpoint(self, info: Info) -> WebhookEndpointType | None:
        found = await endpoint_loader(info.context).load((self._tenant_id, self._endpoint_id))
        return WebhookEndpointType.of(found) if found else None
