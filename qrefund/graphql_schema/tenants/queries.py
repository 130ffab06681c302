"""viewer and merchants."""

from __future__ import annotations

import uuid

import strawberry

from qrefund.graphql_schema.context import Context, Info
from qrefund.graphql_schema.errors import query_error
from qrefund.graphql_schema.loaders import tenant_loader
from qrefund.graphql_schema.relay import Connection, Node
from qrefund.graphql_schema.tenants.types import ApiKeyType, TenantType, Viewer
from qrefund.platform.errors import DomainError, NotFound
from qrefund.platform.pagination import page_size
from qrefund.tenants import service
from qrefund.tenants.auth import own_tenant


@strawberry.type
class TenantQueries:
    @strawberry.field(description="Who is calling: the key's tenant and role.")
    async def viewer(self, info: Info) -> Viewer:
        scope = info.context.require_scope()
        assert scope.actor_tenant_id is not None
        async with info.context.reading() as uow:
            tenant = await own_tenant(uow)
        return Viewer(tenant=TenantType.of(tenant), role=scope.role)

    @strawberry.field(description="Merchants in the caller's scope, oldest first.")
    async def merchants(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[TenantType]:
        ctx = info.context
        try:
            size = page_size(
                first, default=ctx.settings.default_page_size, maximum=ctx.settings.max_page_size
            )
            async with ctx.reading() as uow:
                page = await service.list_merchants(uow, first=size, after=after)
        except DomainError as error:
            raise query_error(error) from None
        return Connection[TenantType].build(page, [TenantType.of(t) for t in page.items], None)


async def tenant_node(ctx: Context, parts: list[uuid.UUID]) -> Node | None:
    tenant = await tenant_loader(ctx).load(parts[0]) if len(parts) == 1 else None
    return TenantType.of(tenant) if tenant else None


async def api_key_node(ctx: Context, parts: list[uuid.UUID]) -> Node | None:
    if len(parts) != 2:
        return None
    try:
        async with ctx.reading() as uow:
            return ApiKeyType.of(await service.get_api_key(uow, parts[0], parts[1]))
    except NotFound:
        return None
