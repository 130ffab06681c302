"""webhookEndpoints, webhookDeliveries; node(id) for both types."""

from __future__ import annotations

import uuid

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.context import Context, Info
from qrefund.graphql_schema.errors import query_error
from qrefund.graphql_schema.relay import Connection, Node
from qrefund.graphql_schema.selection import wants_field
from qrefund.graphql_schema.webhooks.types import (
    WebhookDeliveryStatus,
    WebhookDeliveryType,
    WebhookEndpointStatus,
    WebhookEndpointType,
    endpoint_loader,
)
from qrefund.platform.errors import DomainError, NotFound
from qrefund.platform.pagination import page_size
from qrefund.platform.webhooks import service
from qrefund.platform.webhooks.models import DeliveryStatus, EndpointStatus


async def webhook_endpoint_node(ctx: Context, parts: list[uuid.UUID]) -> Node | None:
    if len(parts) != 2:
        return None
    found = await endpoint_loader(ctx).load((parts[0], parts[1]))
    return WebhookEndpointType.of(found) if found else None


async def webhook_delivery_node(ctx: Context, parts: list[uuid.UUID]) -> Node | None:
    if len(parts) != 2:
        return None
    try:
        async with ctx.reading() as uow:
            return WebhookDeliveryType.of(await service.get_delivery(uow, parts[0], parts[1]))
    except NotFound:
        return None



@strawberry.type
class WebhookQueries:
    @strawberry.field(description="Webhook endpoints in the caller's scope, oldest first.")
    async def webhook_endpoints(
        self, info: Info, first: int | None = None, after: str | None = None,
        tenant_id: strawberry.ID | None = None,
        status: WebhookEndpointStatus | None = None,  # type: ignore[valid-type]
    ) -> Connection[WebhookEndpointType]:
        ctx = info.context
        try:
            size = page_size(first, default=ctx.settings.default_page_size,
                             maximum=ctx.settings.max_page_size)
            owners = [ids.tenant_id_of(tenant_id, "tenantId")] if tenant_id else None
            async with ctx.reading() as uow:
                page = await service.list_endpoints(
                    uow, tenant_ids=owners, status=EndpointStatus(status) if status else None,
                    first=size, after=after)
        except DomainError as error:
            raise query_error(error) from None
        return Connection[WebhookEndpointType].build(
            page, [WebhookEndpointType.of(e) for e in page.items], None)

    @strawberry.field(description="The delivery log of one endpoint, newest first.")
    async def webhook_deliveries(
        self, info: Info, endpoint_id: strawberry.ID, first: int | None = None,
        after: str | None = None,
        status: list[WebhookDeliveryStatus] | None = None,  # type: ignore[valid-type]
    ) -> Connection[WebhookDeliveryType]:
        ctx = info.context
        try:
            size = page_size(first, default=ctx.settings.default_page_size,
                             maximum=ctx.settings.max_page_size)
            tenant_id, endpoint = ids.scoped_id(endpoint_id, "WebhookEndpoint", "endpointId")
            statuses = [DeliveryStatus(s) for s in status] if status else None
            async with ctx.reading() as uow:
                page = await service.list_deliveries(uow, tenant_id, endpoint, statuses=statuses,
                                                     first=size, after=after)
                total = (await service.count_deliveries(uow, tenant_id, endpoint, statuses)
                         if wants_field(info, "totalCount") else None)
        except DomainError as error:
            raise query_error(error) from None
        return Connection[WebhookDeliveryType].build(
            page, [WebhookDeliveryType.of(d) for d in page.items], total)
