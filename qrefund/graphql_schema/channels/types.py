"""GraphQL types of payment channel accounts: identifiers and state, never secrets."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.channels.links import ChannelAccountLinkType, links_of_account
from qrefund.graphql_schema.context import Info
from qrefund.graphql_schema.relay import Node
from qrefund.platform.channels import service
from qrefund.platform.channels.models import (
    AccountChannel,
    AccountMode,
    AccountStatus,
    PaymentChannelAccount,
    PaymentChannelAccountEvent,
)
from qrefund.platform.config import Settings

PaymentChannelAccountChannel = strawberry.enum(AccountChannel, name="PaymentChannelAccountChannel")
PaymentChannelAccountStatus = strawberry.enum(AccountStatus, name="PaymentChannelAccountStatus")
PaymentChannelAccountMode = strawberry.enum(AccountMode, name="PaymentChannelAccountMode")


@strawberry.type(name="PaymentChannelAccountEvent")
class PaymentChannelAccountEventType:
    action: str = strawberry.field(description="created, rotated, enabled, disabled, tested.")
    actor: str
    fields: list[str] = strawberry.field(description="The credentials changed (names only).")
    occurred_at: datetime

    @classmethod
    def of(cls, e: PaymentChannelAccountEvent) -> PaymentChannelAccountEventType:
        return cls(action=e.action, actor=e.actor, fields=list(e.fields),
                   occurred_at=e.occurred_at)


@strawberry.type(name="PaymentChannelAccount", description=(
    "A merchant's credentials at WeChat Pay or Alipay. Secrets (API v3 key, private keys, "
    "app auth token) are write-only: set by create and rotate, never returned."))
class PaymentChannelAccountType(Node):
    channel: PaymentChannelAccountChannel  # type: ignore[valid-type]
    status: PaymentChannelAccountStatus  # type: ignore[valid-type]
    mode: PaymentChannelAccountMode  # type: ignore[valid-type]
    merchant_id: strawberry.ID
    merchant_ref: str = strawberry.field(description="WeChat Pay mchid (the service "
                                         "provider's in SERVICE_PROVIDER mode); Alipay app id.")
    sub_merchant_ref: str | None = strawberry.field(description="WeChat Pay sub_mchid.")
    key_serial: str | None = strawberry.field(
        description="WeChat Pay: the merchant API certificate's serial number.")
    provider_key_id: str | None = strawberry.field(
        description="WeChat Pay: the platform public key id or platform certificate serial.")
    callback_url: str | None = strawberry.field(
        description="Where the provider sends refund results for this account (WeChat Pay's "
                    "notify_url; Alipay's asynchronous notification notify_url).")
    secrets_rotated_at: datetime | None
    last_test_at: datetime | None
    last_test_ok: bool | None
    last_test_message: str | None
    disabled_at: datetime | None
    created_by: str
    created_at: datetime
    _tenant_id: strawberry.Private[uuid.UUID]
    _id: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, a: PaymentChannelAccount, settings: Settings) -> PaymentChannelAccountType:
        return cls(
            id=ids.encode("PaymentChannelAccount", a.tenant_id, a.id),
            channel=AccountChannel(a.channel), status=AccountStatus(a.status),
            mode=AccountMode(a.mode), merchant_id=ids.encode("Tenant", a.tenant_id),
            merchant_ref=a.merchant_ref, sub_merchant_ref=a.sub_merchant_ref,
            key_serial=a.key_serial, provider_key_id=a.provider_key_id,
            callback_url=service.callback_url(a, settings),
            secrets_rotated_at=a.secrets_rotated_at, last_test_at=a.last_test_at,
            last_test_ok=a.last_test_ok, last_test_message=a.last_test_message,
            disabled_at=a.disabled_at, created_by=a.created_by, created_at=a.created_at,
            _tenant_id=a.tenant_id, _id=a.id,
        )

    @strawberry.field(description="Who changed what and when (never the secrets' values).")
    async def audit_trail(self, info: Info) -> list[PaymentChannelAccountEventType]:
        async with info.context.reading() as uow:
            rows = await service.audit_trail(uow, self._tenant_id, self._id)
        return [PaymentChannelAccountEventType.of(r) for r in rows]

    @strawberry.field(description="An agency's own account: the merchants linked to it (live "
                                  "and ended), oldest first.")
    async def linked_merchants(self, info: Info) -> list[ChannelAccountLinkType]:
        return await links_of_account(info, self._tenant_id, self._id)
