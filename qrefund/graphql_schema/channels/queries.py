"""paymentChannelAccounts; node(id) for PaymentChannelAccount."""

from __future__ import annotations

import uuid

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.channels.types import PaymentChannelAccountType
from qrefund.graphql_schema.context import Context, Info
from qrefund.graphql_schema.errors import query_error
from qrefund.graphql_schema.payouts.types import PayoutType
from qrefund.graphql_schema.relay import Node
from qrefund.platform.channels import service
from qrefund.platform.errors import DomainError
from qrefund.platform.payouts import reconcile
from qrefund.platform.roles import Permission


async def payment_channel_account_node(ctx: Context, parts: list[uuid.UUID]) -> Node | None:
    if len(parts) != 2:
        return None
    try:
        async with ctx.reading() as uow:
            uow.scope.require(Permission.MANAGE_CHANNELS)  # ADMIN only, like the list
            found = await service.get_account(uow, parts[0], parts[1])
    except DomainError:
        return None
    return PaymentChannelAccountType.of(found, ctx.settings)


@strawberry.type
class ChannelQueries:
    @strawberry.field(description="Payment channel accounts in the caller's scope (ADMIN), "
                                  "or one merchant's.")
    async def payment_channel_accounts(
        self, info: Info, merchant_id: strawberry.ID | None = None,
    ) -> list[PaymentChannelAccountType]:
        ctx = info.context
        ctx.require_scope()
        try:
            merchant = ids.tenant_id_of(merchant_id, "merchantId") if merchant_id else None
            async with ctx.reading() as uow:
                rows = await service.list_accounts(uow, merchant)
        except DomainError as error:
            raise query_error(error) from None
        return [PaymentChannelAccountType.of(a, ctx.settings) for a in rows]

    @strawberry.field(description="Payouts whose provider's records contradict them, found by "
                                  "the daily reconciliation (at most the page size cap).")
    async def payout_discrepancies(
        self, info: Info, merchant_ids: list[strawberry.ID] | None = None,
    ) -> list[PayoutType]:
        ctx = info.context
        ctx.require_scope()
        try:
            merchants = ([ids.tenant_id_of(m, "merchantIds") for m in merchant_ids]
                         if merchant_ids is not None else None)
            async with ctx.reading() as uow:
                rows = await reconcile.discrepancies(uow, merchants, ctx.settings.max_page_size)
        except DomainError as error:
            raise query_error(error) from None
        return [PayoutType.of(p) for p in rows]
