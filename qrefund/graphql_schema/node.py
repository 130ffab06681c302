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
from qrefund.graphql_schema.rendering import Recipe, Rendered, compile_object_at, renders
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


def decoded(id: str) -> tuple[str, list[uuid.UUID]] | None:
    """The type and ids a global id names, or None when no node can answer it (malformed,
    an unknown type, no ids): ``node(id)`` is then null."""
    try:
        type_name, parts = ids.decode_any(id)
    except NotFound:
        return None
    if type_name not in RESOLVERS or not parts:
        return None  # another tenant's id: its resolver's repository finds nothing
    return type_name, parts


async def rendered(context: Context, site: Any, type_name: str, parts: list[uuid.UUID]) -> Any:
    """The node as PostgreSQL renders it (``Rendered``, or None when absent or out of
    scope), or ``NotImplemented`` when it can't be rendered: the type has no recipes, a
    selected field lacks one, or the database or the executor does not render. ``site``:
    the field's resolve info (or a :class:`~qrefund.graphql_schema.rendering.FieldSite`)."""
    renderer = RENDERED.get(type_name)
    if renderer is None or len(parts) != 2 or not renders(context):
        return NotImplemented
    tree = compile_object_at(site, type_name, renderer.recipes())
    if tree is None:
        return NotImplemented
    key = (parts[0], parts[1])
    async with context.reading() as uow:
        found = await renderer.read(uow, key, tree)
    return Rendered(found) if found is not None else None


@strawberry.type
class NodeQueries:
    @strawberry.field(description="Any object by its global ID; null when absent or out of scope.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        info.context.require_scope()
        found = decoded(id)
        if found is None:
            return None
        type_name, parts = found
        # One case or payment with only plain fields: one statement builds its JSON.
        answer = await rendered(info.context, info._raw_info, type_name, parts)
        if answer is not NotImplemented:
            return answer  # type: ignore[no-any-return]
        return await RESOLVERS[type_name](info.context, parts)
