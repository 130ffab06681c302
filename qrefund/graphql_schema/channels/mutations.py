"""createPaymentChannelAccount, rotatePaymentChannelCredentials, disable/enable, test."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.channels.types import (
    PaymentChannelAccountChannel,
    PaymentChannelAccountType,
)
from qrefund.graphql_schema.context import Info
from qrefund.graphql_schema.errors import UserError
from qrefund.platform.channels import adapters, service
from qrefund.platform.channels.models import (
    AccountChannel,
    AccountStatus,
    PaymentChannelAccount,
)
from qrefund.platform.db import UnitOfWork


@strawberry.input(description="WeChat Pay API v3 credentials. On rotation give only what "
                              "changes.")
class WeChatPayCredentialsInput:
    mchid: str | None = strawberry.field(default=None, description=(
        "商户号; in service-provider mode the provider's mchid."))
    sub_mchid: str | None = strawberry.field(default=None, description=(
        "Service-provider mode: the merchant's sub_mchid (\"\" on rotation clears it)."))
    merchant_serial: str | None = strawberry.field(
        default=None, description="The merchant API certificate's serial number (hex).")
    merchant_private_key: str | None = strawberry.field(
        default=None, description="apiclient_key.pem (PEM, RSA 2048+). Write-only.")
    api_v3_key: str | None = strawberry.field(default=None, description="APIv3 key (32 "
                                              "characters). Write-only.")
    platform_key_id: str | None = strawberry.field(default=None, description=(
        "The platform public key id (PUB_KEY_ID_...); not needed with a platform certificate."))
    platform_public_key: str | None = strawberry.field(default=None, description=(
        "The WeChat Pay platform public key (PEM) or platform certificate (PEM)."))


@strawberry.input(description="Alipay OpenAPI credentials (public key mode).")
class AlipayCredentialsInput:
    app_id: str | None = None
    app_private_key: str | None = strawberry.field(default=None, description=(
        "The app private key (PEM, RSA 2048+). Write-only."))
    alipay_public_key: str | None = strawberry.field(default=None, description=(
        "Alipay's public key (PEM) or Alipay public key certificate."))
    app_auth_token: str | None = strawberry.field(default=None, description=(
        "Service providers (third-party apps): the merchant's app_auth_token. Write-only."))


def _wechat(i: WeChatPayCredentialsInput | None) -> service.WeChatPayFields | None:
    if i is None:
        return None
    return service.WeChatPayFields(
        mchid=i.mchid, sub_mchid=i.sub_mchid, merchant_serial=i.merchant_serial,
        merchant_private_key=i.merchant_private_key, api_v3_key=i.api_v3_key,
        platform_key_id=i.platform_key_id, platform_public_key=i.platform_public_key)


def _alipay(i: AlipayCredentialsInput | None) -> service.AlipayFields | None:
    if i is None:
        return None
    return service.AlipayFields(app_id=i.app_id, app_private_key=i.app_private_key,
                                alipay_public_key=i.alipay_public_key,
                                app_auth_token=i.app_auth_token)


@strawberry.input
class CreatePaymentChannelAccountInput:
    channel: PaymentChannelAccountChannel  # type: ignore[valid-type]
    merchant_id: strawberry.ID | None = strawberry.field(
        default=None, description="Agency and operator keys: the merchant it refunds for.")
    wechat_pay: WeChatPayCredentialsInput | None = None
    alipay: AlipayCredentialsInput | None = None


@strawberry.type
class CreatePaymentChannelAccountPayload:
    payment_channel_account: PaymentChannelAccountType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class RotatePaymentChannelCredentialsInput:
    id: strawberry.ID
    wechat_pay: WeChatPayCredentialsInput | None = None
    alipay: AlipayCredentialsInput | None = None


@strawberry.type
class RotatePaymentChannelCredentialsPayload:
    payment_channel_account: PaymentChannelAccountType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class PaymentChannelAccountIdInput:
    id: strawberry.ID


@strawberry.type
class DisablePaymentChannelAccountPayload:
    payment_channel_account: PaymentChannelAccountType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class EnablePaymentChannelAccountPayload:
    payment_channel_account: PaymentChannelAccountType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class TestPaymentChannelAccountPayload:
    payment_channel_account: PaymentChannelAccountType | None = strawberry.field(
        default=None, description="lastTestOk and lastTestMessage hold the outcome.")
    user_errors: list[UserError] = strawberry.field(default_factory=list)


P = TypeVar("P")
Key = tuple[uuid.UUID, uuid.UUID]


async def _run(info: Info, payload: Callable[..., P],
               work: Callable[[UnitOfWork], Awaitable[PaymentChannelAccount]]) -> P:
    """One unit of work returning the account; a DomainError becomes userErrors."""
    settings = info.context.settings

    async def unit(uow: UnitOfWork) -> P:
        account = await work(uow)
        return payload(payment_channel_account=PaymentChannelAccountType.of(account, settings))

    return await info.context.mutate(unit, lambda errors: payload(user_errors=errors))


def _account_id(gid: strawberry.ID) -> Key:
    return ids.scoped_id(gid, "PaymentChannelAccount")


@strawberry.type
class ChannelMutations:
    @strawberry.mutation(description="Store a merchant's WeChat Pay or Alipay credentials "
                                     "(ADMIN). Refunds of its payments then go through it.")
    async def create_payment_channel_account(
        self, info: Info, input: CreatePaymentChannelAccountInput
    ) -> CreatePaymentChannelAccountPayload:
        def cmd() -> service.CreateAccount:
            return service.CreateAccount(
                channel=AccountChannel(input.channel),
                merchant_id=ids.tenant_id_of(input.merchant_id, "merchantId")
                if input.merchant_id else None,
                wechat_pay=_wechat(input.wechat_pay), alipay=_alipay(input.alipay))

        return await _run(info, CreatePaymentChannelAccountPayload,
                          lambda uow: service.create_account(uow, cmd()))

    @strawberry.mutation(description="Replace some credentials of an account (ADMIN).")
    async def rotate_payment_channel_credentials(
        self, info: Info, input: RotatePaymentChannelCredentialsInput
    ) -> RotatePaymentChannelCredentialsPayload:
        return await _run(info, RotatePaymentChannelCredentialsPayload,
                          lambda uow: service.rotate_credentials(
                              uow, *_account_id(input.id), wechat_pay=_wechat(input.wechat_pay),
                              alipay=_alipay(input.alipay)))

    @strawberry.mutation(description="Stop routing new refunds through the account (ADMIN); "
                                     "refunds already sent still settle.")
    async def disable_payment_channel_account(
        self, info: Info, input: PaymentChannelAccountIdInput
    ) -> DisablePaymentChannelAccountPayload:
        return await _run(info, DisablePaymentChannelAccountPayload, lambda uow: (
            service.set_status(uow, *_account_id(input.id), AccountStatus.DISABLED)))

    @strawberry.mutation(description="Route refunds through the account again (ADMIN).")
    async def enable_payment_channel_account(
        self, info: Info, input: PaymentChannelAccountIdInput
    ) -> EnablePaymentChannelAccountPayload:
        return await _run(info, EnablePaymentChannelAccountPayload, lambda uow: (
            service.set_status(uow, *_account_id(input.id), AccountStatus.ENABLED)))

    @strawberry.mutation(description="Check the credentials with a signed call that moves no "
                                     "money (ADMIN).")
    async def test_payment_channel_account(
        self, info: Info, input: PaymentChannelAccountIdInput
    ) -> TestPaymentChannelAccountPayload:
        settings = info.context.settings
        return await _run(info, TestPaymentChannelAccountPayload, lambda uow: (
            adapters.probe_account(uow, *_account_id(input.id), settings)))
