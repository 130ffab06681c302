"""How PostgreSQL renders a ``Transaction``'s plain fields (``TransactionType.of``)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from qrefund.graphql_schema.rendering import Recipe, money
from qrefund.platform import json_render as jr
from qrefund.platform.transactions.models import Transaction, refundable_minor_of


@cache
def transaction_recipes() -> Mapping[str, Recipe]:
    t = Transaction
    return {
        "id": jr.GlobalId("Transaction", (t.tenant_id, t.id)),
        "merchantOrderNo": jr.Value(t.merchant_order_no),
        "amount": money(t.amount_minor, t.currency),
        "refundedAmount": money(t.refunded_minor, t.currency),
        "refundableAmount": money(refundable_minor_of(), t.currency),
        "status": jr.Value(t.status),
        "channel": jr.Value(t.channel),
        "paidAt": jr.Instant(t.paid_at),
        "providerReference": jr.Value(t.provider_reference),
        "storeId": jr.Value(t.store_id),
        "terminalId": jr.Value(t.terminal_id),
        "payerAccountMasked": jr.Value(t.payer_masked),
        "refundCount": jr.Value(t.refund_count),
        "createdAt": jr.Instant(t.created_at),
        "merchantId": jr.GlobalId("Tenant", (t.tenant_id,)),
    }
