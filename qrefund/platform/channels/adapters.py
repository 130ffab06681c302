"""The payout adapter of an account: its credentials opened, its gateway and callback URL.

Built per payout job (accounts are few and rotation must take effect at once), never
cached with secrets in it.
"""

from __future__ import annotations

import uuid

from qrefund.platform.channels import credentials as cred
from qrefund.platform.channels import nonces, service
from qrefund.platform.channels.alipay import AlipayChannel, AlipayConfig
from qrefund.platform.channels.models import (
    AccountChannel,
    ChannelAccountMerchant,
    PaymentChannelAccount,
)
from qrefund.platform.channels.wechatpay import WeChatPayChannel, WeChatPayConfig
from qrefund.platform.config import Settings
from qrefund.platform.db import UnitOfWork
from qrefund.platform.payouts.channels import ChannelUnavailable, PaymentChannelAdapter
from qrefund.platform.roles import Permission

# The adapter names payouts record for accounts' channels (``Payout.adapter``).
ADAPTER_NAMES = {AccountChannel.WECHAT_PAY: "wechatpay", AccountChannel.ALIPAY: "alipay"}


def wechatpay_config(account: PaymentChannelAccount, settings: Settings,
                     link: ChannelAccountMerchant | None = None) -> WeChatPayConfig:
    """``link``: service-provider mode for one of the agency's merchants (its sub_mchid)."""
    secrets = cred.open_wechatpay(account.secrets_enc)
    return WeChatPayConfig(
        mchid=account.merchant_ref,
        sub_mchid=link.sub_merchant_ref if link is not None else account.sub_merchant_ref,
        merchant_serial=account.key_serial or "", merchant_private_key=secrets.merchant_private_key,
        api_v3_key=secrets.api_v3_key, platform_key_id=account.provider_key_id or "",
        platform_public_key=account.provider_public_key,
        notify_url=service.callback_url(account, settings), api_base=settings.wechatpay_api_base)


def alipay_config(account: PaymentChannelAccount, settings: Settings,
                  trade_no: str | None = None, link: ChannelAccountMerchant | None = None
                  ) -> AlipayConfig:
    """``link``: a service provider's app acting for one of its merchants (its token)."""
    secrets = cred.open_alipay(account.secrets_enc)
    token = (cred.open_link(link.secrets_enc) if link is not None and link.secrets_enc
             else secrets.app_auth_token)
    return AlipayConfig(app_id=account.merchant_ref, app_private_key=secrets.app_private_key,
                        alipay_public_key=account.provider_public_key,
                        app_auth_token=token, gateway=settings.alipay_gateway,
                        trade_no=trade_no, notify_url=service.callback_url(account, settings))


def adapter_for(account: PaymentChannelAccount, settings: Settings, *,
                provider_reference: str | None = None,
                link: ChannelAccountMerchant | None = None) -> PaymentChannelAdapter:
    """``provider_reference``: the payment's id at the provider (Alipay's refund query
    names the payment as well as the refund); ``link``: the merchant's link when the
    account is its agency's (service-provider mode)."""
    if account.channel == AccountChannel.WECHAT_PAY:
        return WeChatPayChannel(wechatpay_config(account, settings, link),
                                nonce_store=nonces.store_for(settings))
    return AlipayChannel(alipay_config(account, settings, provider_reference, link))


async def probe_account(uow: UnitOfWork, tenant_id: uuid.UUID, account_id: uuid.UUID,
                        settings: Settings) -> PaymentChannelAccount:
    """testPaymentChannelAccount: a signed call that moves no money (a refund query for a
    number that cannot exist), its outcome noted on the account. The call is made
    inside the unit (bounded by the adapter's timeout): it only reads at the provider."""
    uow.scope.require(Permission.MANAGE_CHANNELS)
    account = await service.get_account(uow, tenant_id, account_id)
    channel = adapter_for(account, settings)
    try:
        problem = await channel.probe() or None  # type: ignore[attr-defined]
    except ChannelUnavailable as exc:
        problem = str(exc)
    return await service.record_test(uow, tenant_id, account_id, problem)
