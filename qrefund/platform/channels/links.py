"""Service-provider links: an agency's merchants on the agency's own channel account.

In WeChat Pay's 服务商 mode the agency holds one mchid and refunds for each merchant by
naming the merchant's ``sub_mchid``; in Alipay's third-party-app mode it holds one app
and refunds with the merchant's ``app_auth_token``. A link records that reference for
one merchant (the token sealed with the key ring, never returned); a merchant without
an account of its own for the channel is then refunded through the agency's account
(:func:`qrefund.platform.channels.service.route`).

Only the agency's ``ADMIN`` keys (or the operator's) link and unlink, only the
agency's own merchants (another tenant's merchant is *not found*), and every change
is written to the account's audit trail and as an outbox event — names, never the
token.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from qrefund.platform.channels import credentials as cred
from qrefund.platform.channels.errors import ChannelError
from qrefund.platform.channels.models import (
    AccountChannel,
    ChannelAccountMerchant,
    LinkStatus,
    PaymentChannelAccount,
)
from qrefund.platform.channels.repository import ChannelAccountMerchantRepository
from qrefund.platform.channels.service import audit, get_account
from qrefund.platform.clock import utcnow
from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import Conflict, InvalidInput, InvalidState, NotFound
from qrefund.platform.ids import new_id
from qrefund.platform.roles import Permission
from qrefund.platform.scope import TenantKind
from qrefund.tenants.service import get_tenant


@dataclass(frozen=True)
class LinkMerchant:
    account_tenant_id: uuid.UUID
    account_id: uuid.UUID
    merchant_id: uuid.UUID
    sub_mchid: str | None = None  # WeChat Pay
    app_auth_token: str | None = None  # Alipay


async def _provider_account(uow: UnitOfWork, tenant_id: uuid.UUID, account_id: uuid.UUID
                            ) -> PaymentChannelAccount:
    """The account, which must be an agency's own (only those serve other merchants)."""
    account = await get_account(uow, tenant_id, account_id, lock=True)
    owner = await get_tenant(uow, account.tenant_id)
    if owner.kind != TenantKind.AGENCY:
        raise InvalidInput("only an agency's own account (service-provider mode) links "
                           "merchants", field=["accountId"],
                           code=ChannelError.NOT_A_SERVICE_PROVIDER_ACCOUNT)
    return account


async def _own_merchant(uow: UnitOfWork, account: PaymentChannelAccount,
                        merchant_id: uuid.UUID) -> uuid.UUID:
    """The merchant, if it is one of the account's agency's merchants; else *not found*
    (a merchant of another agency, or standing alone, is none of this agency's business)."""
    try:
        merchant = await get_tenant(uow, merchant_id)
    except NotFound:
        merchant = None
    if (merchant is None or merchant.kind != TenantKind.MERCHANT
            or merchant.parent_id != account.tenant_id):
        raise NotFound("merchant not found", field=["merchantId"])
    return merchant.id


def _reference(account: PaymentChannelAccount, cmd: LinkMerchant
               ) -> tuple[str | None, str | None, str]:
    """(sub_mchid, sealed token, name of the field set) for the account's channel."""
    if account.channel == AccountChannel.WECHAT_PAY:
        if cmd.app_auth_token is not None:
            raise InvalidInput("appAuthToken goes with an Alipay account",
                               field=["appAuthToken"], code=ChannelError.INVALID_CREDENTIAL)
        sub = cred.mchid(cmd.sub_mchid, "subMchid")
        if sub == account.merchant_ref:
            raise InvalidInput("subMchid is the service provider's own mchid",
                               field=["subMchid"], code=ChannelError.INVALID_CREDENTIAL)
        return sub, None, "subMchid"
    if cmd.sub_mchid is not None:
        raise InvalidInput("subMchid goes with a WeChat Pay account", field=["subMchid"],
                           code=ChannelError.INVALID_CREDENTIAL)
    token = cred.app_auth_token(cmd.app_auth_token, "appAuthToken")
    return None, cred.seal_link(token), "appAuthToken"


async def link_merchant(uow: UnitOfWork, cmd: LinkMerchant) -> ChannelAccountMerchant:
    """linkChannelAccountMerchant: the merchant is refunded through the agency's account
    (unless it has an enabled account of its own for the channel)."""
    uow.scope.require(Permission.MANAGE_CHANNELS)
    account = await _provider_account(uow, cmd.account_tenant_id, cmd.account_id)
    merchant_id = await _own_merchant(uow, account, cmd.merchant_id)
    sub, sealed, field = _reference(account, cmd)
    repo = ChannelAccountMerchantRepository(uow)
    if await repo.active(account.tenant_id, account.id, merchant_id) is not None:
        raise Conflict("this merchant is already linked to the account: unlink it first to "
                       "change its reference", field=["merchantId"],
                       code=ChannelError.DUPLICATE_CHANNEL_LINK)
    link = repo.add(ChannelAccountMerchant(
        tenant_id=account.tenant_id, id=new_id(), account_id=account.id,
        merchant_id=merchant_id, sub_merchant_ref=sub, secrets_enc=sealed,
        created_by=uow.scope.actor[:80], created_at=utcnow()))
    await uow.flush()
    await audit(uow, account, "merchant_linked", [field], _event_data(link))
    return link


async def unlink_merchant(uow: UnitOfWork, account_tenant_id: uuid.UUID,
                          account_id: uuid.UUID, merchant_id: uuid.UUID
                          ) -> ChannelAccountMerchant:
    """unlinkChannelAccountMerchant: new refunds of the merchant stop using the account;
    attempts already sent with the link still settle (the row stays, UNLINKED)."""
    uow.scope.require(Permission.MANAGE_CHANNELS)
    account = await _provider_account(uow, account_tenant_id, account_id)
    merchant = await _own_merchant(uow, account, merchant_id)
    link = await ChannelAccountMerchantRepository(uow).active(account.tenant_id, account.id,
                                                              merchant)
    if link is None:
        raise InvalidState("the merchant is not linked to this account", field=["merchantId"],
                           code=ChannelError.MERCHANT_NOT_LINKED)
    link.status = LinkStatus.UNLINKED.value
    link.unlinked_at = utcnow()
    link.unlinked_by = uow.scope.actor[:80]
    await audit(uow, account, "merchant_unlinked", ["status"], _event_data(link))
    return link


async def links_of(uow: UnitOfWork, tenant_id: uuid.UUID, account_id: uuid.UUID
                   ) -> list[ChannelAccountMerchant]:
    """Every link of an account in scope (live and ended), oldest first."""
    uow.scope.require(Permission.MANAGE_CHANNELS)
    return await ChannelAccountMerchantRepository(uow).of_account(tenant_id, account_id)


def _event_data(link: ChannelAccountMerchant) -> dict[str, object]:
    return {"merchantId": str(link.merchant_id), "linkId": str(link.id),
            "linkSubMerchantRef": link.sub_merchant_ref}


def app_auth_token(link: ChannelAccountMerchant) -> str | None:
    """The merchant's Alipay app_auth_token, opened to sign a call (never shown)."""
    return cred.open_link(link.secrets_enc) if link.secrets_enc else None


async def notified_links(uow: UnitOfWork, tenant_id: uuid.UUID, account_id: uuid.UUID,
                         sub_mchid: str | None) -> dict[uuid.UUID, uuid.UUID]:
    """The links (id -> merchant id, live or ended) a provider notification to the
    account may be about: those with its sub_mchid (WeChat Pay), or every link of the
    account (Alipay's notification names the refund only)."""
    repo = ChannelAccountMerchantRepository(uow)
    if sub_mchid is not None:
        links = await repo.by_sub_merchant(tenant_id, account_id, sub_mchid) if sub_mchid else []
    else:
        links = await repo.of_account(tenant_id, account_id)
    return {link.id: link.merchant_id for link in links}
