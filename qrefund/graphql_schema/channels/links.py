"""linkChannelAccountMerchant, unlinkChannelAccountMerchant, and the links of an account
(an agency's service-provider account serving its merchants)."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.context import Info
from qrefund.graphql_schema.errors import UserError
from qrefund.platform.channels import links
from qrefund.platform.channels.models import ChannelAccountMerchant, LinkStatus
from qrefund.platform.db import UnitOfWork

ChannelAccountLinkStatus = strawberry.enum(LinkStatus, name="ChannelAccountLinkStatus")


@strawberry.type(name="ChannelAccountLink", description=(
    "One of an agency's merchants on the agency's service-provider account: refunds of the "
    "merchant's payments go through the account when the merchant has none of its own. "
    "The Alipay app auth token is write-only."))
class ChannelAccountLinkType:
    merchant_id: strawberry.ID
    status: ChannelAccountLinkStatus  # type: ignore[valid-type]
    sub_merchant_ref: str | None = strawberry.field(description="WeChat Pay: the merchant's "
                                                    "sub_mchid.")
    has_app_auth_token: bool = strawberry.field(description="Alipay: whether a token is held "
                                                "(never shown).")
    created_by: str
    created_at: datetime
    unlinked_at: datetime | None
    unlinked_by: str | None

    @classmethod
    def of(cls, link: ChannelAccountMerchant) -> ChannelAccountLinkType:
        return cls(merchant_id=ids.encode("Tenant", link.merchant_id),
                   status=LinkStatus(link.status), sub_merchant_ref=link.sub_merchant_ref,
                   has_app_auth_token=link.secrets_enc is not None, created_by=link.created_by,
                   created_at=link.created_at, unlinked_at=link.unlinked_at,
                   unlinked_by=link.unlinked_by)


async def links_of_account(info: Info, tenant_id: uuid.UUID, account_id: uuid.UUID
                           ) -> list[ChannelAccountLinkType]:
    async with info.context.reading() as uow:
        rows = await links.links_of(uow, tenant_id, account_id)
    return [ChannelAccountLinkType.of(r) for r in rows]


@strawberry.input
class LinkChannelAccountMerchantInput:
    account_id: strawberry.ID = strawberry.field(description="The agency's own account.")
    merchant_id: strawberry.ID = strawberry.field(description="One of the agency's merchants.")
    sub_mchid: str | None = strawberry.field(default=None, description=(
        "WeChat Pay: the merchant's sub_mchid (子商户号) under the agency's mchid."))
    app_auth_token: str | None = strawberry.field(default=None, description=(
        "Alipay: the merchant's app_auth_token for the agency's app. Write-only."))


@strawberry.type
class LinkChannelAccountMerchantPayload:
    link: ChannelAccountLinkType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class UnlinkChannelAccountMerchantInput:
    account_id: strawberry.ID
    merchant_id: strawberry.ID


@strawberry.type
class UnlinkChannelAccountMerchantPayload:
    link: ChannelAccountLinkType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ChannelLinkMutations:
    @strawberry.mutation(description="Refund one of the agency's merchants through the "
                                     "agency's service-provider account (ADMIN of the agency).")
    async def link_channel_account_merchant(
        self, info: Info, input: LinkChannelAccountMerchantInput
    ) -> LinkChannelAccountMerchantPayload:
        async def unit(uow: UnitOfWork) -> LinkChannelAccountMerchantPayload:
            tenant_id, account_id = ids.scoped_id(input.account_id, "PaymentChannelAccount",
                                                  "accountId")
            link = await links.link_merchant(uow, links.LinkMerchant(
                account_tenant_id=tenant_id, account_id=account_id,
                merchant_id=ids.tenant_id_of(input.merchant_id, "merchantId"),
                sub_mchid=input.sub_mchid, app_auth_token=input.app_auth_token))
            return LinkChannelAccountMerchantPayload(link=ChannelAccountLinkType.of(link))

        return await info.context.mutate(
            unit, lambda errors: LinkChannelAccountMerchantPayload(user_errors=errors))

    @strawberry.mutation(description="Stop refunding the merchant through the agency's account "
                                     "(ADMIN); refunds already sent still settle.")
    async def unlink_channel_account_merchant(
        self, info: Info, input: UnlinkChannelAccountMerchantInput
    ) -> UnlinkChannelAccountMerchantPayload:
        async def unit(uow: UnitOfWork) -> UnlinkChannelAccountMerchantPayload:
            tenant_id, account_id = ids.scoped_id(input.account_id, "PaymentChannelAccount",
                                                  "accountId")
            link = await links.unlink_merchant(uow, tenant_id, account_id, ids.tenant_id_of(
                input.merchant_id, "merchantId"))
            return UnlinkChannelAccountMerchantPayload(link=ChannelAccountLinkType.of(link))

        return await info.context.mutate(
            unit, lambda errors: UnlinkChannelAccountMerchantPayload(user_errors=errors))
