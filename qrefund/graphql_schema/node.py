"""node(id): resolve any global ID through the type's loader, inside the caller's scope."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.context import Context, Info
from qrefund.graphql_schema.loaders import tenant_loader, transaction_loader
from qrefund.graphql_schema.relay import Node
from qrefund.graphql_schema.tenants.types import ApiKeyType, TenantType
from qrefund.graphql_schema.transactions.types import TransactionType
from qrefund.platform.errors import NotFound
from qrefund.tenants import service as tenant_service

Resolver = Callable[[Context, list], Awaitable[Node | None]]  # type: ignore[type-arg]


async def _tenant(ctx: Context, parts: list) -> Node | None:  # type: ignore[type-arg]
    tenant = await tenant_loader(ctx).load(parts[0]) if len(parts) == 1 else None
    return TenantType.of(tenant) if tenant else None


async def _transaction(ctx: Context, parts: list) -> Node | None:  # type: ignore[type-arg]
    txn = await transaction_loader(ctx).load((parts[0], parts[1])) if len(parts) == 2 else None
    return TransactionType.of(txn) if txn else None


async def _api_key(ctx: Context, parts: list) -> Node | None:  # type: ignore[type-arg]
    if len(parts) != 2:
        return None
    try:
        async with ctx.reading() as uow:
            return ApiKeyType.of(await tenant_service.get_api_key(uow, parts[0], parts[1]))
    except NotFound:
        return None


RESOLVERS: dict[str, Resolver] = {
    "Tenant": _tenant,
    "Transaction": _transaction,
    "ApiKey": _api_key,
}


def register(type_name: str, resolver: Resolver) -> None:
    """Domains add their node types here (refund cases, tickets, ...)."""
    RESOLVERS[type_name] = resolver


@strawberry.type
class NodeQueries:
    @strawberry.field(description="Any object by its global ID; null when absent or out of scope.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        scope = info.context.require_scope()
        try:
            type_name, parts = ids.decode_any(id)
        except NotFound:
            return None
        resolver = RESOLVERS.get(type_name)
        if resolver is None or not parts or not scope.allows(parts[0]):
            return None
        return await resolver(info.context, parts)
