"""transactions: a keyset-paginated, filtered connection."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.context import Context, Info
from qrefund.graphql_schema.loaders import transaction_loader
from qrefund.graphql_schema.paging import filtered_page, rendered_connection
from qrefund.graphql_schema.relay import Connection, Node
from qrefund.graphql_schema.transactions.recipes import transaction_recipes
from qrefund.graphql_schema.transactions.types import (
    PaymentChannel,
    TransactionStatus,
    TransactionType,
)
from qrefund.platform import validation
from qrefund.platform.errors import InvalidInput
from qrefund.platform.money import Money
from qrefund.platform.transactions import service
from qrefund.platform.transactions.service import TransactionFilter


@strawberry.input
class TransactionFilterInput:
    merchant_ids: list[strawberry.ID] | None = None
    status: list[TransactionStatus] | None = None  # type: ignore[valid-type]
    channel: list[PaymentChannel] | None = None  # type: ignore[valid-type]
    paid_from: datetime | None = None
    paid_to: datetime | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    currency: str | None = strawberry.field(default=None, description="Needed with amount bounds.")
    terminal_id: str | None = None
    store_id: str | None = None
    merchant_order_no: str | None = None


def to_filter(f: TransactionFilterInput | None) -> TransactionFilter:
    if f is None:
        return TransactionFilter()
    if (f.amount_min is not None or f.amount_max is not None) and not f.currency:
        raise InvalidInput("currency is needed with amount bounds", field=["filter", "currency"])
    return TransactionFilter(
        merchant_ids=[ids.tenant_id_of(m, "merchantIds") for m in f.merchant_ids]
        if f.merchant_ids
        else None,
        statuses=list(f.status) if f.status else None,
        channels=list(f.channel) if f.channel else None,
        # A naive datetime cannot be compared with stored UTC: refuse it as input.
        paid_from=validation.aware(f.paid_from, "paidFrom") if f.paid_from else None,
        paid_to=validation.aware(f.paid_to, "paidTo") if f.paid_to else None,
        amount_min=Money.parse(f.amount_min, f.currency or "", "amountMin").minor
        if f.amount_min
        else None,
        amount_max=Money.parse(f.amount_max, f.currency or "", "amountMax").minor
        if f.amount_max
        else None,
        # The checks values pass when recorded: one that could not be stored matches nothing,
        # and a NUL byte would be a database error rather than a user error.
        terminal_id=validation.code(f.terminal_id, "terminalId", max_len=64, required=False),
        store_id=validation.code(f.store_id, "storeId", max_len=64, required=False),
        merchant_order_no=validation.code(
            f.merchant_order_no, "merchantOrderNo", max_len=64, required=False
        ),
    )


@strawberry.type
class TransactionQueries:
    @strawberry.field(description="Payments in the caller's scope, newest first (paidAt, id).")
    async def transactions(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: TransactionFilterInput | None = None,
    ) -> Connection[TransactionType]:
        rendered = await rendered_connection(
            info, transaction_recipes(), first, lambda: to_filter(filter),
            lambda uow, flt, size, node: service.rendered_page(uow, flt, first=size,
                                                               after=after, node=node),
            service.count)
        if rendered is not None:
            return rendered
        page, total = await filtered_page(
            info, first, lambda: to_filter(filter),
            lambda uow, flt, size: service.list_page(uow, flt, first=size, after=after),
            service.count)
        return Connection[TransactionType].build(
            page, [TransactionType.of(t) for t in page.items], total
        )


async def transaction_node(ctx: Context, parts: list[uuid.UUID]) -> Node | None:
    txn = await transaction_loader(ctx).load((parts[0], parts[1])) if len(parts) == 2 else None
    return TransactionType.of(txn) if txn else None
