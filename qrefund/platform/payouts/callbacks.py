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

from qrefund.platform.channels import adapters as channel_adapters
from qrefund.platform.channels import alipay, nonces, wechatpay
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

__all__ = ["ReplayRejected", "SignatureRejected", "alipay_notification",
           "wechatpay_notification"]


async def _account(uow: UnitOfWork, tenant_id: uuid.UUID, account_id: uuid.UUID,
                   channel: AccountChannel) -> PaymentChannelAccount:
    account = await channel_accounts.get_account(uow, tenant_id, account_id)
    if account.channel != channel:
        raise NotFound(f"no {channel} account with this id")
    return account


async def wechatpay_notification(uow: UnitOfWork, tenant_id: uuid.UUID, account_id: uuid.UUID,
                                 headers: Mapping[str, str], body: bytes, settings: Settings,
                                 ) -> Payout | None:
    """Verify and apply a WeChat Pay refund notification; the payout it concerns (None
    when the platform made no such attempt through this account: acknowledged and
    ignored). Raises NotFound for an unknown account, SignatureRejected for anything
    not provably from WeChat Pay for this account, ReplayRejected for a copy."""
    account = await _account(uow, tenant_id, account_id, AccountChannel.WECHAT_PAY)
    config = channel_adapters.wechatpay_config(account, settings)
    store = nonces.store_for(settings)
    key = await wechatpay.verify_once(config, dict(headers), body, store)
    try:
        return await _apply_wechatpay(uow, tenant_id, account, config, body, settings)
    except BaseException:
        await store.forget(key)
        raise


async def _apply_wechatpay(uow: UnitOfWork, tenant_id: uuid.UUID,
                           account: PaymentChannelAccount, config: wechatpay.WeChatPayConfig,
                           body: bytes, settings: Settings) -> Payout | None:
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
    return await apply_notification(uow, tenant_id, account.id, str(resource.get(
        "out_refund_no", "")), result, poll_schedule=settings.payout_poll_seconds)


async def alipay_notification(uow: UnitOfWork, tenant_id: uuid.UUID, account_id: uuid.UUID,
                              body: bytes, settings: Settings) -> Payout | None:
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
        return await _apply_alipay(uow, tenant_id, account_id, params, settings)
    except BaseException:
        await store.forget(key)
        raise


async def _apply_alipay(uow: UnitOfWork, tenant_id: uuid.UUID, account_id: uuid.UUID,
                        params: dict[str, str], settings: Settings) -> Payout | None:
    refund = alipay.refund_of_notification(params)
    if refund is None:
        return None
    out_request_no, refunded_total = refund
    payout = await PayoutRepository(uow).by_out_refund_no(tenant_id, out_request_no)
    if payout is None or payout.channel_account_id != account_id:
        return None
    if refunded_total is not None and refunded_total < payout.amount_minor:
        # The trade's refunded total cannot include this refund: not proof of it; the
        # refund query settles the payout.
        return payout
    result = ChannelResult(ChannelStatus.SUCCEEDED, provider_refund_id=out_request_no)
    return await service.apply_result(uow, tenant_id, payout.id, result, polled=False,
                                      poll_schedule=settings.payout_poll_seconds)


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
