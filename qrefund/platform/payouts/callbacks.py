"""Provider callbacks: a verified refund result moves its payout like a poll's answer.

The order is fixed: the account named by the URL gives the keys; the signature
headers are verified over the raw body *before* anything in the body is read; then
the resource is decrypted and checked to be about this account; only then does the
payout move, through :func:`service.apply_result` — so the first of callback and
poll settles the payout and the other is a no-op, and a repeated callback finds
the payout final and changes nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence

from qrefund.platform.channels import adapters as channel_adapters
from qrefund.platform.channels import service as channel_accounts
from qrefund.platform.channels import wechatpay
from qrefund.platform.channels.models import AccountChannel
from qrefund.platform.channels.wechatpay import SignatureRejected
from qrefund.platform.config import Settings
from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import NotFound
from qrefund.platform.payouts import service
from qrefund.platform.payouts.channels import ChannelStatus, ChannelUnavailable
from qrefund.platform.payouts.models import Payout
from qrefund.platform.payouts.repository import PayoutRepository

__all__ = ["SignatureRejected", "wechatpay_notification"]


async def wechatpay_notification(uow: UnitOfWork, tenant_id: uuid.UUID, account_id: uuid.UUID,
                                 headers: Mapping[str, str], body: bytes, settings: Settings,
                                 ) -> Payout | None:
    """Verify and apply a WeChat Pay refund notification; the payout it concerns (None
    when the platform made no such attempt through this account: acknowledged and
    ignored). Raises NotFound for an unknown account, SignatureRejected for anything
    not provably from WeChat Pay for this account."""
    account = await channel_accounts.get_account(uow, tenant_id, account_id)
    if account.channel != AccountChannel.WECHAT_PAY:
        raise NotFound("no WeChat Pay account with this id")
    config = channel_adapters.wechatpay_config(account, settings)
    wechatpay.verify(config, dict(headers), body)
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
    return await apply_notification(uow, tenant_id, account_id, str(resource.get(
        "out_refund_no", "")), result, poll_schedule=settings.payout_poll_seconds)


async def apply_notification(uow: UnitOfWork, tenant_id: uuid.UUID, account_id: uuid.UUID,
                             out_refund_no: str, result: wechatpay.ChannelResult, *,
                             poll_schedule: Sequence[int]) -> Payout | None:
    payout = await PayoutRepository(uow).by_out_refund_no(tenant_id, out_refund_no[:64])
    if payout is None or payout.channel_account_id != account_id:
        return None
    if result.status == ChannelStatus.PROCESSING:
        return payout  # nothing new: polling carries on
    return await service.apply_result(uow, tenant_id, payout.id, result, polled=False,
                                      poll_schedule=poll_schedule)
