"""node(id): any object by its global ID, through the one table of node types.

Every type that implements ``Node`` has its resolver listed in :data:`RESOLVERS`,
here and nowhere else (domains define the resolvers; nothing registers itself on
import). A resolver loads within the caller's scope, so another tenant's id, a
malformed id or an unknown type all answer null.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.channels.queries import payment_channel_account_node
from qrefund.graphql_schema.complaints.queries import complaint_ticket_node
from qrefund.graphql_schema.context import Context, Info
from qrefund.graphql_schema.exports.types import export_node
from qrefund.graphql_schema.imports.types import transaction_import_node
from qrefund.graphql_schema.notifications.queries import notification_node
from qrefund.graphql_schema.payouts.types import payout_node
from qrefund.graphql_schema.refunds.queries import refund_case_node
from qrefund.graphql_schema.refunds.recipes import case_recipes
from qrefund.graphql_schema.relay import Node
from qrefund.graphql_schema.rendering import Recipe, Rendered, can_render, compile_object
from qrefund.graphql_schema.risk.queries import anomaly_flag_node
from qrefund.graphql_schema.tenants.queries import api_key_node, tenant_node
from qrefund.graphql_schema.transactions.queries import transaction_node
from qrefund.graphql_schema.transactions.recipes import transaction_recipes
from qrefund.graphql_schema.webhooks.queries import webhook_delivery_node, webhook_endpoint_node
from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import NotFound
from qrefund.platform.json_render import Obj
from qrefund.platform.refunds import queries as refund_queries
from qrefund.platform.transactions import service as transactions

Resolver = Callable[[Context, list[uuid.UUID]], Awaitable[Node | None]]
Key = tuple[uuid.UUID, uuid.UUID]

RESOLVERS: Mapping[str, Resolver] = {
    "Tenant": tenant_node,
    "ApiKey": api_key_node,
    "Transaction": transaction_node,
    "RefundCase": refund_case_node,
    "Payout": payout_node,
    "WebhookEndpoint": webhook_endpoint_node,
    "WebhookDelivery": webhook_delivery_node,
    "Notification": notification_node,
    "ComplaintTicket": complaint_ticket_node,
    "PaymentChannelAccount": payment_channel_account_node,
    "Export": export_node,
    "TransactionImport": transaction_import_node,
    "AnomalyFlag": anomaly_flag_node,
}


@dataclass(frozen=True)
class RenderedNode:
    """A node type PostgreSQL can render (:mod:`qrefund.graphql_schema.rendering`): its
    recipes, and the domain read of rows by (merchant, id) as the JSON a tree describes,
    which applies the same scope and checks as the type's resolver in :data:`RESOLVERS`."""

    recipes: Callable[[], Mapping[str, Recipe]]
    read: Callable[[UnitOfWork, Key, Obj], Awaitable[dict[str, Any] | None]]


RENDERED: Mapping[str, RenderedNode] = {
    "RefundCase": RenderedNode(case_recipes, refund_queries.rendered_case),
    "Transaction": RenderedNode(transaction_recipes, transactions.rendered_one),
}


async def _rendered(info: Info, type_name: str, parts: list[uuid.UUID]) -> Any:
    """The node as PostgreSQL renders it (``Rendered``, or None when absent or out of
    scope), or ``NotImplemented`` when it can't be rendered: the type has no recipes, a
    selected field lacks one, or the database or the executor does not render."""
    renderer = RENDERED.get(type_name)
    if renderer is None or len(parts) != 2 or not can_render(info):
        return NotImplemented
    tree = compile_object(info, type_name, renderer.recipes())
    if tree is None:
        return NotImplemented
    key = (parts[0], parts[1])
    async with info.context.reading() as uow:
        found = await renderer.read(uow, key, tree)
    return Rendered(found) if found is not None else None


@strawberry.type
class NodeQueries:
    @strawberry.field(description="Any object by its global ID; null when absent or out of scope.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        info.context.require_scope()
        try:
            type_name, parts = ids.decode_any(id)
        except NotFound:
            return None
        resolver = RESOLVERS.get(type_name)
        if resolver is None or not parts:
            return None  # another tenant's id: its resolver's repository finds nothing
        # One case or payment with only plain fields: one statement builds its JSON.
        rendered = await _rendered(info, type_name, parts)
        if rendered is not NotImplemented:
            return rendered  # type: ignore[no-any-return]
        return await resolver(info.context, parts)
