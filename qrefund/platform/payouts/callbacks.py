"""Provider callbacks: a verified refund result moves its payout like a poll's answer.

The order is fixed: the account named by the URL gives the keys; the signature is
verified over the raw body (WeChat Pay: the ``Wechatpay-*`` headers; Alipay: the
form's RSA2 ``sign``) *before* anything in the body is read; a copy of a message
already accepted is refused (WeChat Pay: its timestamp and nonce; Alipay: its
``notify_id``, acknowledged without effect since Alipay resends the same id until it
is answered); then the message is checked to be about this account; only then does
the payout move, through :func:`service.apply_result` — so the first of callback and
poll settles the payout and the other is a no-op.

A message that verified but could not be processed (an error, a refusal after the
signature) has its nonce forgotten, so the provider's resend is handled.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from qrefund.platform.channels import adapters as channel_adapters
from qrefund.platform.channels import alipay, links, nonces, wechatpay
from qrefund.platform.channels import service as channel_accounts
from qrefund.platform.channels.models import AccountChannel, PaymentChannelAccount
from qrefund.platform.channels.wechatpay import ReplayRejected, SignatureRejected
from qrefund.platform.config import Settings
from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import NotFound
from qrefund.platform.payouts import service
from qrefund.platform.payouts.channels import ChannelResult, ChannelStatus, ChannelUnavailable
from qrefund.platform.payouts.models import Payout
from qrefund.platform.payouts.repository import PayoutRepository
from qrefund.platform.scope import TenantKind
from qrefund.tenants.service import get_tenant

__all__ = ["ForMerchants", "ReplayRejected", "SignatureRejected", "alipay_notification",
           "apply_for_merchants", "forget", "wechatpay_notification"]


async def _account(uow: UnitOfWork, tenant_id: uuid.UUID, account_id: uuid.UUID,
                   channel: AccountChannel) -> PaymentChannelAccount:
    account = await channel_accounts.get_account(uow, tenant_id, account_id)
    if account.channel != channel:
        raise NotFound(f"no {channel} account with this id")
    return account


async def wechatpay_notification(uow: UnitOfWork, tenant_id: uuid.UUID, account_id: uuid.UUID,
                                 headers: Mapping[str, str], body: bytes, settings: Settings,
                                 ) -> Payout | ForMerchants | None:
    """Verify and apply a WeChat Pay refund notification; the payout it concerns (None
    when the platform made no such attempt through this account: acknowledged and
    ignored). Raises NotFound for an unknown account, SignatureRejected for anything
    not provably from WeChat Pay for this account, ReplayRejected for a copy."""
    account = await _account(uow, tenant_id, account_id, AccountChannel.WECHAT_PAY)
    config = channel_adapters.wechatpay_config(account, settings)
    store = nonces.store_for(settings)
    key = await wechatpay.verify_once(config, dict(headers), body, store)
    try:
        found = await _apply_wechatpay(uow, tenant_id, account, config, body, settings)
    except BaseException:
        await store.forget(key)
        raise
    return replace(found, nonce_key=key) if isinstance(found, ForMerchants) else found


async def _apply_wechatpay(uow: UnitOfWork, tenant_id: uuid.UUID,
                           account: PaymentChannelAccount, config: wechatpay.WeChatPayConfig,
                           body: bytes, settings: Settings) -> Payout | ForMerchants | None:
    try:
        envelope = json.loads(body)
        resource = wechatpay.decrypt_resource(config.api_v3_key, envelope["resource"])
    except (ValueError, KeyError, TypeError):
        raise SignatureRejected("not a refund notification") from None
    mchid = resource.get("sp_mchid") or resource.get("mchid")
    if mchid != account.merchant_ref or (
            account.sub_merchant_ref and resource.get("sub_mchid") != account.sub_merchant_ref):
        raise SignatureRejected("the notification is about another merchant")
    try:
        result = wechatpay.result_of_refund(resource)
    except ChannelUnavailable:
        raise SignatureRejected("the notification carries no known refund status") from None
    if await _serves_merchants(uow, account):
        named = await links.notified_links(uow, tenant_id, account.id,
                                           str(resource.get("sub_mchid") or "")[:32])
        return ForMerchants(account.id, named, str(resource.get("out_refund_no", ""))[:64],
                            result)
    return await apply_notification(uow, tenant_id, account.id, str(resource.get(
        "out_refund_no", "")), result, poll_schedule=settings.payout_poll_seconds)


async def alipay_notification(uow: UnitOfWork, tenant_id: uuid.UUID, account_id: uuid.UUID,
                              body: bytes, settings: Settings) -> Payout | ForMerchants | None:
    """Verify and apply an Alipay asynchronous notification. Returns the payout it
    settled or found settled (None when it reports no refund of this account's).
    Raises NotFound for an unknown account, SignatureRejected for anything not
    provably from Alipay for this app, ReplayRejected for a ``notify_id`` already
    handled (the caller acknowledges it: Alipay would resend forever otherwise)."""
    account = await _account(uow, tenant_id, account_id, AccountChannel.ALIPAY)
    config = channel_adapters.alipay_config(account, settings)
    params = alipay.notification_params(body)
    alipay.verify_notification(config, params)
    notify_id = params.get("notify_id", "")[:128]
    if not notify_id:
        raise SignatureRejected("the notification has no notify_id")
    store = nonces.store_for(settings)
    key = f"alipay:{config.app_id}:{notify_id}"
    try:
        fresh = await store.first_use(key, alipay.NOTIFY_TTL)
    except nonces.NonceStoreUnavailable as exc:
        raise SignatureRejected(f"the replay guard is unavailable ({exc})") from None
    if not fresh:
        raise ReplayRejected("notify_id already handled")
    try:
        refund = alipay.refund_of_notification(params)
        if refund is None:
            return None
        if await _serves_merchants(uow, account):
            # The notification names the refund, not the merchant: every merchant linked
            # to the app (live or not) is a candidate; the payout's link decides.
            named = await links.notified_links(uow, tenant_id, account.id, None)
            return ForMerchants(account.id, named, refund[0][:64], None, refund[1], key)
        payout = await PayoutRepository(uow).by_out_refund_no(tenant_id, refund[0])
        if payout is None or payout.channel_account_id != account_id:
            return None
        return await _settle_alipay(uow, payout, refund[1], settings.payout_poll_seconds)
    except BaseException:
        await store.forget(key)
        raise


async def _settle_alipay(uow: UnitOfWork, payout: Payout, refunded_total: int | None,
                         poll_schedule: Sequence[int]) -> Payout:
    if refunded_total is not None and refunded_total < payout.amount_minor:
        # The trade's refunded total cannot include this refund: not proof of it; the
        # refund query settles the payout.
        return payout
    result = ChannelResult(ChannelStatus.SUCCEEDED, provider_refund_id=payout.out_refund_no)
    return await service.apply_result(uow, payout.tenant_id, payout.id, result, polled=False,
                                      poll_schedule=poll_schedule)


@dataclass(frozen=True)
class ForMerchants:
    """A verified notification to an agency's service-provider account: the payout is
    one of its linked merchants'. The agency's unit cannot touch it, so the caller
    applies it with :func:`apply_for_merchants` in a unit scoped to exactly
    :attr:`merchant_ids` (and calls :func:`forget` if that fails, so the provider's
    resend is handled)."""

    account_id: uuid.UUID
    links: dict[uuid.UUID, uuid.UUID]  # link id -> merchant id
    out_refund_no: str
    result: ChannelResult | None  # None: Alipay, decided against the payout's amount
    refunded_total: int | None = None
    nonce_key: str = ""  # the replay guard's key of the notification

    @property
    def merchant_ids(self) -> frozenset[uuid.UUID]:
        return frozenset(self.links.values())


async def forget(notice: ForMerchants, settings: Settings) -> None:
    """The notification was not applied: its resend must not count as a replay."""
    if notice.nonce_key:
        await nonces.store_for(settings).forget(notice.nonce_key)


async def _serves_merchants(uow: UnitOfWork, account: PaymentChannelAccount) -> bool:
    """Whether the account is an agency's own (its payouts are its merchants')."""
    return (await get_tenant(uow, account.tenant_id)).kind == TenantKind.AGENCY


async def apply_for_merchants(uow: UnitOfWork, notice: ForMerchants, settings: Settings
                              ) -> Payout | None:
    """Settle the linked merchant's payout a notification names: only an attempt sent
    through this account with one of the links the notification matched."""
    found = [p for p in await PayoutRepository(uow).by_out_refund_no_among(
        sorted(notice.merchant_ids), notice.out_refund_no)
        if p.channel_account_id == notice.account_id
        and notice.links.get(p.channel_link_id or uuid.UUID(int=0)) == p.tenant_id]
    if len(found) != 1:
        return None
    payout = found[0]
    if notice.result is None:
        return await _settle_alipay(uow, payout, notice.refunded_total,
                                    settings.payout_poll_seconds)
    if notice.result.status == ChannelStatus.PROCESSING:
        return payout
    return await service.apply_result(uow, payout.tenant_id, payout.id, notice.result,
                                      polled=False, poll_schedule=settings.payout_poll_seconds)


async def apply_notification(uow: UnitOfWork, tenant_id: uuid.UUID, account_id: uuid.UUID,
                             out_refund_no: str, result: ChannelResult, *,
                             poll_schedule: Sequence[int]) -> Payout | None:
    payout = await PayoutRepository(uow).by_out_refund_no(tenant_id, out_refund_no[:64])
    if payout is None or payout.channel_account_id != account_id:
        return None
    if result.status == ChannelStatus.PROCESSING:
        return payout  # nothing new: polling carries on
    return await service.apply_result(uow, tenant_id, payout.id, result, polled=False,
                                      poll_schedule=poll_schedule)
