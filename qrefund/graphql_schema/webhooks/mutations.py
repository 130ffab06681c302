"""createWebhookEndpoint, disable/enable, rotateWebhookSecret, redeliverWebhookEvent."""

from __future__ import annotations

from datetime import timedelta

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.context import Info
from qrefund.graphql_schema.errors import UserError
from qrefund.graphql_schema.webhooks.types import WebhookDeliveryType, WebhookEndpointType
from qrefund.platform.db import UnitOfWork
from qrefund.platform.webhooks import service


@strawberry.input
class CreateWebhookEndpointInput:
    url: str
    event_types: list[str] = strawberry.field(
        description="Exact types (refund_case.approved), families (refund_case.*) or *.")
    merchant_id: strawberry.ID | None = strawberry.field(
        default=None, description="Agency endpoints: only this merchant's events.")
    description: str | None = None


@strawberry.type
class CreateWebhookEndpointPayload:
    webhook_endpoint: WebhookEndpointType | None = None
    secret: str | None = strawberry.field(
        default=None, description="The signing secret, shown once; store it now.")
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class DisableWebhookEndpointInput:
    id: strawberry.ID
    reason: str | None = None


@strawberry.type
class DisableWebhookEndpointPayload:
    webhook_endpoint: WebhookEndpointType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class EnableWebhookEndpointInput:
    id: strawberry.ID


@strawberry.type
class EnableWebhookEndpointPayload:
    webhook_endpoint: WebhookEndpointType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class RotateWebhookSecretInput:
    id: strawberry.ID
    overlap_hours: int | None = strawberry.field(
        default=None,
        description="How long the old secret stays valid (default 24, 0-168); during the "
                    "overlap every delivery carries one v1= signature per secret.")


@strawberry.type
class RotateWebhookSecretPayload:
    webhook_endpoint: WebhookEndpointType | None = None
    secret: str | None = strawberry.field(default=None, description="The new secret, shown once.")
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class RedeliverWebhookEventInput:
    delivery_id: strawberry.ID = strawberry.field(
        description="The WebhookDelivery (one event to one endpoint) to send again.")


@strawberry.type
class RedeliverWebhookEventPayload:
    webhook_delivery: WebhookDeliveryType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class WebhookMutations:
    @strawberry.mutation(description="Subscribe a URL to events; the secret is shown only here.")
    async def create_webhook_endpoint(
        self, info: Info, input: CreateWebhookEndpointInput
    ) -> CreateWebhookEndpointPayload:
        async def work(uow: UnitOfWork) -> CreateWebhookEndpointPayload:
            cmd = service.CreateEndpoint(
                url=input.url, event_types=input.event_types,
                merchant_id=ids.tenant_id_of(input.merchant_id, "merchantId")
                if input.merchant_id else None,
                description=input.description,
            )
            endpoint, secret = await service.create_endpoint(uow, cmd, info.context.settings)
            return CreateWebhookEndpointPayload(
                webhook_endpoint=WebhookEndpointType.of(endpoint), secret=secret)

        return await info.context.mutate(
            work, lambda errors: CreateWebhookEndpointPayload(user_errors=errors))

    @strawberry.mutation(description="Stop deliveries to an endpoint (pending ones are cancelled).")
    async def disable_webhook_endpoint(
        self, info: Info, input: DisableWebhookEndpointInput
    ) -> DisableWebhookEndpointPayload:
        async def work(uow: UnitOfWork) -> DisableWebhookEndpointPayload:
            tenant_id, endpoint_id = ids.scoped_id(input.id, "WebhookEndpoint")
            endpoint = await service.disable_endpoint(uow, tenant_id, endpoint_id, input.reason)
            return DisableWebhookEndpointPayload(webhook_endpoint=WebhookEndpointType.of(endpoint))

        return await info.context.mutate(
            work, lambda errors: DisableWebhookEndpointPayload(user_errors=errors))

    @strawberry.mutation(description="Resume deliveries to a disabled endpoint.")
    async def enable_webhook_endpoint(
        self, info: Info, input: EnableWebhookEndpointInput
    ) -> EnableWebhookEndpointPayload:
        async def work(uow: UnitOfWork) -> EnableWebhookEndpointPayload:
            tenant_id, endpoint_id = ids.scoped_id(input.id, "WebhookEndpoint")
            endpoint = await service.enable_endpoint(uow, tenant_id, endpoint_id)
            return EnableWebhookEndpointPayload(webhook_endpoint=WebhookEndpointType.of(endpoint))

        return await info.context.mutate(
            work, lambda errors: EnableWebhookEndpointPayload(user_errors=errors))

    @strawberry.mutation(description="A new signing secret; the old one stays valid a while.")
    async def rotate_webhook_secret(
        self, info: Info, input: RotateWebhookSecretInput
    ) -> RotateWebhookSecretPayload:
        async def work(uow: UnitOfWork) -> RotateWebhookSecretPayload:
            tenant_id, endpoint_id = ids.scoped_id(input.id, "WebhookEndpoint")
            overlap = timedelta(hours=input.overlap_hours) \
                if input.overlap_hours is not None else None
            endpoint, secret = await service.rotate_secret(uow, tenant_id, endpoint_id, overlap)
            return RotateWebhookSecretPayload(
                webhook_endpoint=WebhookEndpointType.of(endpoint), secret=secret)

        return await info.context.mutate(
            work, lambda errors: RotateWebhookSecretPayload(user_errors=errors))

    @strawberry.mutation(description="Send one delivery again now, with a fresh retry window.")
    async def redeliver_webhook_event(
        self, info: Info, input: RedeliverWebhookEventInput
    ) -> RedeliverWebhookEventPayload:
        async def work(uow: UnitOfWork) -> RedeliverWebhookEventPayload:
            tenant_id, delivery_id = ids.scoped_id(input.delivery_id, "WebhookDelivery",
                                                   "deliveryId")
            delivery = await service.redeliver(uow, tenant_id, delivery_id)
            return RedeliverWebhookEventPayload(webhook_delivery=WebhookDeliveryType.of(delivery))

        return await info.context.mutate(
            work, lambda errors: RedeliverWebhookEventPayload(user_errors=errors))
