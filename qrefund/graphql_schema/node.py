"""node(id): any object by its global ID, through the one table of node types.

Every type that implements ``Node`` has its resolver listed in :data:`RESOLVERS`,
here and nowhere else (domains define the resolvers; nothing registers itself on
import). A resolver loads within the caller's scope, so another tenant's id, a
malformed id or an unknown type all answer null.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping

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
from qrefund.graphql_schema.relay import Node
from qrefund.graphql_schema.risk.queries import anomaly_flag_node
from qrefund.graphql_schema.tenants.queries import api_key_node, tenant_node
from qrefund.graphql_schema.transactions.queries import transaction_node
from qrefund.graphql_schema.webhooks.queries import webhook_delivery_node, webhook_endpoint_node
from qrefund.platform.errors import NotFound

Resolver = Callable[[Context, list[uuid.UUID]], Awaitable[Node | None]]

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
        return await resolver(info.context, parts)
