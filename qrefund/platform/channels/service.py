"""Payment channel accounts: create, rotate, disable/enable, test; routing of payouts.

An account belongs to the merchant whose payments it refunds (an agency acting as
service provider creates it for its merchant, with its own mchid and the merchant's
``sub_mchid``, or Alipay's ``app_auth_token``). Only ``ADMIN`` keys manage accounts.
Secrets go in through create and rotate and never come out of the API; every change
writes an audit row naming the fields changed (never their values) and an outbox
event ``payment_channel_account.<action>``.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from qrefund.platform.channels import credentials as cred
from qrefund.platform.channels.errors import ChannelError
from qrefund.platform.channels.models import (
    AccountChannel,
    AccountMode,
    AccountStatus,
    ChannelAccountMerchant,
    PaymentChannelAccount,
    PaymentChannelAccountEvent,
)
from qrefund.platform.channels.repository import (
    ChannelAccountMerchantRepository,
    PaymentChannelAccountEventRepository,
    PaymentChannelAccountRepository,
)
from qrefund.platform.clock import utcnow
from qrefund.platform.config import Settings
from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import Conflict, InvalidInput, InvalidState, NotFound
from qrefund.platform.ids import new_id
from qrefund.platform.outbox.service import record_event
from qrefund.platform.roles import Permission
from qrefund.platform.scope import TenantKind
from qrefund.tenants.models import Tenant
from qrefund.tenants.service import get_tenant, resolve_merchant

CALLBACK_SEGMENT = {AccountChannel.WECHAT_PAY: "wechatpay", AccountChannel.ALIPAY: "alipay"}


@dataclass(frozen=True)
class WeChatPayFields:
    """Create: mchid, merchant_serial, merchant_private_key, api_v3_key and
    platform_public_key are required; rotate: any subset."""

    mchid: str | None = None
    sub_mchid: str | None = None
    merchant_serial: str | None = None
    merchant_private_key: str | None = None
    api_v3_key: str | None = None
    platform_key_id: str | None = None
    platform_public_key: str | None = None


@dataclass(frozen=True)
class AlipayFields:
    app_id: str | None = None
    app_private_key: str | None = None
    alipay_public_key: str | None = None
    app_auth_token: str | None = None


@dataclass(frozen=True)
class CreateAccount:
    channel: AccountChannel
    merchant_id: uuid.UUID | None = None
    wechat_pay: WeChatPayFields | None = None
    alipay: AlipayFields | None = None


def given(values: WeChatPayFields | AlipayFields) -> list[str]:
    """The names of the fields a command sets (for the audit trail: names, not values)."""
    return [f.name for f in fields(values) if getattr(values, f.name) is not None]


def account_ref(account: PaymentChannelAccount) -> str:
    """The account's public reference in callback URLs: its global ID (the same
    ``base64url("PaymentChannelAccount:<tenant>:<id>")`` the API shows)."""
    raw = f"PaymentChannelAccount:{account.tenant_id}:{account.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def callback_path(account: PaymentChannelAccount) -> str:
    return f"/callbacks/{CALLBACK_SEGMENT[AccountChannel(account.channel)]}/{account_ref(account)}"


def callback_url(account: PaymentChannelAccount, settings: Settings) -> str:
    return settings.public_base_url.rstrip("/") + callback_path(account)


# -- applying validated fields -------------------------------------------------------------


def _apply_wechatpay(account: PaymentChannelAccount, f: WeChatPayFields, *, creating: bool
                     ) -> None:
    p = "wechatPay."
    old = None if creating else cred.open_wechatpay(account.secrets_enc)
    if creating or f.mchid is not None:
        account.merchant_ref = cred.mchid(f.mchid, p + "mchid")
    if f.sub_mchid is not None:
        sub = f.sub_mchid.strip()
        account.sub_merchant_ref = cred.mchid(sub, p + "subMchid") if sub else None
    account.mode = (AccountMode.SERVICE_PROVIDER if account.sub_merchant_ref
                    else AccountMode.DIRECT).value
    if creating or f.merchant_serial is not None:
        account.key_serial = cred.serial(f.merchant_serial, p + "merchantSerial")
    private = (cred.private_key(f.merchant_private_key, p + "merchantPrivateKey")
               if creating or f.merchant_private_key is not None else None)
    v3_key = (cred.api_v3_key(f.api_v3_key, p + "apiV3Key")
              if creating or f.api_v3_key is not None else None)
    if creating or f.platform_public_key is not None:
        pem, cert_serial = cred.public_key(f.platform_public_key, p + "platformPublicKey")
        account.provider_public_key = pem
        if cert_serial is not None:  # a certificate names its own serial
            account.provider_key_id = cert_serial
        elif f.platform_key_id is None and (creating or not account.provider_key_id):
            raise InvalidInput("a bare platform public key needs platformKeyId (PUB_KEY_ID_...)",
                               field=["wechatPay", "platformKeyId"],
                               code=ChannelError.INVALID_CREDENTIAL)
    if f.platform_key_id is not None:
        account.provider_key_id = cred.key_id(f.platform_key_id, p + "platformKeyId")
    account.secrets_enc = cred.seal(cred.WeChatPaySecrets(
        api_v3_key=v3_key or (old.api_v3_key if old else ""),
        merchant_private_key=private or (old.merchant_private_key if old else "")))


def _apply_alipay(account: PaymentChannelAccount, f: AlipayFields, *, creating: bool) -> None:
    p = "alipay."
    old = None if creating else cred.open_alipay(account.secrets_enc)
    if creating or f.app_id is not None:
        account.merchant_ref = cred.app_id(f.app_id, p + "appId")
    private = (cred.private_key(f.app_private_key, p + "appPrivateKey")
               if creating or f.app_private_key is not None else None)
    if creating or f.alipay_public_key is not None:
        account.provider_public_key = cred.public_key(f.alipay_public_key,
                                                      p + "alipayPublicKey")[0]
    token = old.app_auth_token if old else None
    if f.app_auth_token is not None:
        token = cred.app_auth_token(f.app_auth_token, p + "appAuthToken") \
            if f.app_auth_token.strip() else None
    account.mode = (AccountMode.SERVICE_PROVIDER if token else AccountMode.DIRECT).value
    account.secrets_enc = cred.seal(cred.AlipaySecrets(
        app_private_key=private or (old.app_private_key if old else ""), app_auth_token=token))


def _fields_for(channel: AccountChannel, wechat_pay: WeChatPayFields | None,
                alipay: AlipayFields | None) -> WeChatPayFields | AlipayFields:
    """The one credentials block that goes with the channel."""
    wanted, other = (("wechatPay", "alipay") if channel == AccountChannel.WECHAT_PAY
                     else ("alipay", "wechatPay"))
    block = wechat_pay if channel == AccountChannel.WECHAT_PAY else alipay
    if (alipay if channel == AccountChannel.WECHAT_PAY else wechat_pay) is not None:
        raise InvalidInput(f"{other} does not go with channel {channel.value}", field=[other],
                           code=ChannelError.INVALID_CREDENTIAL)
    if block is None:
        raise InvalidInput(f"channel {channel.value} needs {wanted}", field=[wanted],
                           code=ChannelError.INVALID_CREDENTIAL)
    return block


# -- commands ------------------------------------------------------------------------------


async def _owner(uow: UnitOfWork, merchant_id: uuid.UUID | None) -> Tenant:
    """Whose account a create makes: the merchant named (or the calling merchant), or —
    an agency key naming no merchant — the agency's own service-provider account."""
    scope = uow.scope
    if merchant_id is None and scope.actor_kind == TenantKind.AGENCY and scope.actor_tenant_id:
        return await get_tenant(uow, scope.actor_tenant_id)
    return await resolve_merchant(uow, merchant_id)


def _provider_fields(block: WeChatPayFields | AlipayFields) -> None:
    """An agency's own account serves many merchants: their sub_mchid / app_auth_token
    go on each merchant's link, never on the account."""
    if isinstance(block, WeChatPayFields) and (block.sub_mchid or "").strip():
        raise InvalidInput("an agency's account takes each merchant's sub_mchid on its link "
                           "(linkChannelAccountMerchant)", field=["wechatPay", "subMchid"],
                           code=ChannelError.INVALID_CREDENTIAL)
    if isinstance(block, AlipayFields) and (block.app_auth_token or "").strip():
        raise InvalidInput("an agency's account takes each merchant's app_auth_token on its "
                           "link (linkChannelAccountMerchant)", field=["alipay", "appAuthToken"],
                           code=ChannelError.INVALID_CREDENTIAL)


async def create_account(uow: UnitOfWork, cmd: CreateAccount) -> PaymentChannelAccount:
    uow.scope.require(Permission.MANAGE_CHANNELS)
    merchant = await _owner(uow, cmd.merchant_id)
    block = _fields_for(cmd.channel, cmd.wechat_pay, cmd.alipay)
    if merchant.kind == TenantKind.AGENCY:
        _provider_fields(block)
    repo = PaymentChannelAccountRepository(uow)
    if await repo.for_channel(merchant.id, cmd.channel.value, enabled_only=False) is not None:
        raise Conflict(f"this merchant already has a {cmd.channel.value} account: rotate its "
                       "credentials or enable it", field=["channel"],
                       code=ChannelError.DUPLICATE_CHANNEL_ACCOUNT)
    now = utcnow()
    account = PaymentChannelAccount(
        tenant_id=merchant.id, id=new_id(), channel=cmd.channel.value, merchant_ref="",
        provider_public_key="", secrets_enc="", created_by=uow.scope.actor[:80],
        created_at=now, updated_at=now)
    if isinstance(block, WeChatPayFields):
        _apply_wechatpay(account, block, creating=True)
    else:
        _apply_alipay(account, block, creating=True)
    if merchant.kind == TenantKind.AGENCY:
        account.mode = AccountMode.SERVICE_PROVIDER.value
    repo.add(account)
    await uow.flush()
    await audit(uow, account, "created", given(block))
    return account


async def rotate_credentials(uow: UnitOfWork, tenant_id: uuid.UUID, account_id: uuid.UUID, *,
                             wechat_pay: WeChatPayFields | None = None,
                             alipay: AlipayFields | None = None) -> PaymentChannelAccount:
    """Replace the given credentials (any subset; the others stay)."""
    uow.scope.require(Permission.MANAGE_CHANNELS)
    account = await get_account(uow, tenant_id, account_id, lock=True)
    block = _fields_for(AccountChannel(account.channel), wechat_pay, alipay)
    changed = given(block)
    owner = await get_tenant(uow, account.tenant_id)
    if owner.kind == TenantKind.AGENCY:
        _provider_fields(block)
    if not changed:
        raise InvalidInput("give at least one credential to replace",
                           field=["wechatPay" if wechat_pay is not None else "alipay"],
                           code=ChannelError.INVALID_CREDENTIAL)
    if isinstance(block, WeChatPayFields):
        _apply_wechatpay(account, block, creating=False)
    else:
        _apply_alipay(account, block, creating=False)
    if owner.kind == TenantKind.AGENCY:
        account.mode = AccountMode.SERVICE_PROVIDER.value
    account.secrets_rotated_at = account.updated_at = utcnow()
    account.last_test_at, account.last_test_ok, account.last_test_message = None, None, None
    await audit(uow, account, "rotated", changed)
    return account


async def set_status(uow: UnitOfWork, tenant_id: uuid.UUID, account_id: uuid.UUID,
                     target: AccountStatus) -> PaymentChannelAccount:
    uow.scope.require(Permission.MANAGE_CHANNELS)
    account = await get_account(uow, tenant_id, account_id, lock=True)
    if account.status == target.value:
        code = (ChannelError.CHANNEL_ACCOUNT_ENABLED if target == AccountStatus.ENABLED
                else ChannelError.CHANNEL_ACCOUNT_DISABLED)
        raise InvalidState(f"the account is already {target.value}", field=["id"], code=code)
    now = utcnow()
    account.status = target.value
    account.disabled_at = now if target == AccountStatus.DISABLED else None
    account.updated_at = now
    await audit(uow, account, target.value.lower(), ["status"])
    return account


async def record_test(uow: UnitOfWork, tenant_id: uuid.UUID, account_id: uuid.UUID,
                      problem: str | None) -> PaymentChannelAccount:
    """Note the outcome of a credentials test (``problem`` None: it worked)."""
    uow.scope.require(Permission.MANAGE_CHANNELS)
    account = await get_account(uow, tenant_id, account_id, lock=True)
    account.last_test_at = utcnow()
    account.last_test_ok = problem is None
    account.last_test_message = (problem or "credentials accepted")[:300]
    await audit(uow, account, "tested", [], {"ok": problem is None})
    return account


async def audit(uow: UnitOfWork, account: PaymentChannelAccount, action: str,
                 changed: Sequence[str], extra: dict[str, Any] | None = None) -> None:
    public = {"channel": account.channel, "status": account.status, "mode": account.mode,
              "merchantRef": account.merchant_ref, "subMerchantRef": account.sub_merchant_ref,
              "keySerial": account.key_serial, "providerKeyId": account.provider_key_id}
    PaymentChannelAccountEventRepository(uow).add(PaymentChannelAccountEvent(
        tenant_id=account.tenant_id, account_id=account.id, action=action,
        actor=uow.scope.actor[:80], fields=list(changed), data={**public, **(extra or {})}))
    await record_event(uow, tenant_id=account.tenant_id,
                       type=f"payment_channel_account.{action}",
                       aggregate_type="payment_channel_account", aggregate_id=account.id,
                       payload={"accountId": str(account.id), "fields": list(changed), **public})


# -- reads ---------------------------------------------------------------------------------


async def get_account(uow: UnitOfWork, tenant_id: uuid.UUID, account_id: uuid.UUID, *,
                      lock: bool = False) -> PaymentChannelAccount:
    return await PaymentChannelAccountRepository(uow).require(
        tenant_id, account_id, lock=lock, what="payment channel account", field=None)


async def list_accounts(uow: UnitOfWork, merchant_id: uuid.UUID | None
                        ) -> list[PaymentChannelAccount]:
    """Every account in scope, or one merchant's (another tenant's id: *not found*)."""
    uow.scope.require(Permission.MANAGE_CHANNELS)
    tenants = None if merchant_id is None else [(await resolve_merchant(uow, merchant_id)).id]
    return await PaymentChannelAccountRepository(uow).of_tenants(tenants)


async def audit_trail(uow: UnitOfWork, tenant_id: uuid.UUID, account_id: uuid.UUID
                      ) -> list[PaymentChannelAccountEvent]:
    uow.scope.require(Permission.MANAGE_CHANNELS)
    return await PaymentChannelAccountEventRepository(uow).of_account(tenant_id, account_id)


async def enabled_account(uow: UnitOfWork, tenant_id: uuid.UUID, payment_channel: str
                          ) -> PaymentChannelAccount | None:
    """The account that refunds this merchant's payments of this channel, if any, as a
    read-only view (routing reads it; changes to an account lock it first)."""
    if payment_channel not in AccountChannel.__members__:
        return None
    return await PaymentChannelAccountRepository(uow).for_channel(
        tenant_id, payment_channel, enabled_only=True, view=True)



# -- routing -------------------------------------------------------------------------------


def sandbox_allowed(settings: Settings) -> bool:
    """Whether a payment without an account may be refunded by the sandbox: anywhere but
    production, where that would pretend to pay."""
    return settings.environment != "production"


@dataclass(frozen=True)
class Route:
    """How a refund to the original route is paid: an account, and — when the account
    is the merchant's agency's (service-provider mode) — the merchant's link on it."""

    account: PaymentChannelAccount
    link: ChannelAccountMerchant | None = None


async def service_provider_route(uow: UnitOfWork, merchant_id: uuid.UUID, channel: str
                                 ) -> Route | None:
    """The merchant's live link on an enabled account of this channel held by the agency
    recorded as the merchant's parent; None without one. Another agency's account is
    never returned, whatever links it holds (the read asks the parent only)."""
    merchant = await get_tenant(uow, merchant_id)
    if merchant.parent_id is None:
        return None
    pairs = await ChannelAccountMerchantRepository(uow).of_parent(merchant.id, merchant.parent_id)
    for link, account in pairs:
        if (link.active and account.channel == channel
                and account.status == AccountStatus.ENABLED.value):
            return Route(account, link)
    return None


async def linked_account(uow: UnitOfWork, merchant_id: uuid.UUID, account_id: uuid.UUID,
                         link_id: uuid.UUID) -> Route:
    """The agency account and merchant link an attempt was sent with, whatever their
    status now (an attempt sent before an unlink or a disable still settles)."""
    merchant = await get_tenant(uow, merchant_id)
    if merchant.parent_id is not None:
        pairs = await ChannelAccountMerchantRepository(uow).of_parent(merchant.id,
                                                                      merchant.parent_id)
        for link, account in pairs:
            if link.id == link_id and account.id == account_id:
                return Route(account, link)
    raise NotFound("payment channel account not found", field=None)


async def route(uow: UnitOfWork, tenant_id: uuid.UUID, payment_channel: str, method: str,
                settings: Settings) -> Route | None:
    """The account that pays a refund to the original route of a WeChat Pay or Alipay
    payment: the merchant's own enabled account, else its agency's service-provider
    account through the merchant's live link; None when the sandbox pays it (neither,
    outside production; another channel; a bank transfer). Raises
    CHANNEL_NOT_CONFIGURED in production when the payment's channel has neither."""
    if method != "ORIGINAL_ROUTE" or payment_channel not in AccountChannel.__members__:
        return None
    account = await enabled_account(uow, tenant_id, payment_channel)
    found = (Route(account) if account is not None
             else await service_provider_route(uow, tenant_id, payment_channel))
    if found is None and not sandbox_allowed(settings):
        raise InvalidState(f"this merchant has no enabled {payment_channel} account (nor a "
                           "link to its agency's), so the refund cannot go back by the "
                           "original route", field=["id"],
                           code=ChannelError.CHANNEL_NOT_CONFIGURED)
    return found


async def payable(uow: UnitOfWork, tenant_id: uuid.UUID, payment_channel: str, method: str,
                  settings: Settings) -> bool:
    """Whether :func:`route` would find a way to pay (auto-approval asks this first: a
    case that cannot be paid is left for a person, who gets CHANNEL_NOT_CONFIGURED)."""
    if sandbox_allowed(settings):
        return True
    try:
        await route(uow, tenant_id, payment_channel, method, settings)
    except InvalidState:
        return False
    return True
