"""Payment channel accounts: a tenant's credentials at WeChat Pay or Alipay, and their
audit trail.

One account per (tenant, channel). The identifiers (mchid, app id, key serials) and
the provider's *public* key are stored in clear: they are not secret and the API
shows them. The secrets (WeChat Pay's API v3 key and merchant private key, Alipay's
app private key and app auth token) are one JSON object sealed with the key ring
(``secrets_enc``); no read path returns them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    ForeignKeyConstraint,
    Index,
    Text,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

from qrefund.platform.sqltypes import created_at as now_column
from qrefund.platform.sqltypes import id_pk, tenant_pk, timestamp

SECRETS_PURPOSE = "payment_channel_account.secrets"
LINK_SECRETS_PURPOSE = "channel_account_merchant.secrets"
# A merchant has at most one live link per service-provider account.
ACTIVE_LINK = text("status = 'ACTIVE'")


class AccountChannel(StrEnum):
    WECHAT_PAY = "WECHAT_PAY"
    ALIPAY = "ALIPAY"


class AccountStatus(StrEnum):
    ENABLED = "ENABLED"
    DISABLED = "DISABLED"


class AccountMode(StrEnum):
    DIRECT = "DIRECT"  # the merchant's own mchid / app
    # 服务商: a provider's mchid + sub_mchid, or an app_auth_token
    SERVICE_PROVIDER = "SERVICE_PROVIDER"


class PaymentChannelAccount(SQLModel, table=True):
    __tablename__ = "payment_channel_accounts"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        UniqueConstraint("tenant_id", "channel", name="uq_payment_channel_accounts_channel"),
    )

    tenant_id: uuid.UUID = tenant_pk()
    id: uuid.UUID = id_pk()
    channel: str = Field(max_length=16)
    status: str = Field(default=AccountStatus.ENABLED.value, max_length=16)
    mode: str = Field(default=AccountMode.DIRECT.value, max_length=16)
    # WeChat Pay: mchid (the service provider's in SERVICE_PROVIDER mode); Alipay: app id.
    merchant_ref: str = Field(max_length=32)
    # WeChat Pay: sub_mchid in SERVICE_PROVIDER mode.
    sub_merchant_ref: str | None = Field(default=None, max_length=32)
    # WeChat Pay: the merchant API certificate's serial number.
    key_serial: str | None = Field(default=None, max_length=64)
    # WeChat Pay: the platform public key id (PUB_KEY_ID_...) or platform certificate
    # serial; Alipay: unused.
    provider_key_id: str | None = Field(default=None, max_length=64)
    provider_public_key: str = Field(sa_column=Column(Text, nullable=False))
    secrets_enc: str = Field(sa_column=Column(Text, nullable=False))
    secrets_rotated_at: datetime | None = timestamp()
    last_test_at: datetime | None = timestamp()
    last_test_ok: bool | None = Field(default=None)
    last_test_message: str | None = Field(default=None, max_length=300)
    disabled_at: datetime | None = timestamp()
    created_by: str = Field(max_length=80)
    created_at: datetime = now_column()
    updated_at: datetime = now_column()


class LinkStatus(StrEnum):
    ACTIVE = "ACTIVE"
    UNLINKED = "UNLINKED"  # kept: payouts sent through it still settle and reconcile


class ChannelAccountMerchant(SQLModel, table=True):
    """A merchant of an agency linked to the agency's service-provider account (服务商):
    the merchant's WeChat Pay ``sub_mchid``, or its Alipay ``app_auth_token`` (sealed).

    The row belongs to the agency (``tenant_id``, the account's owner); ``merchant_id``
    names one of its merchants. A merchant without an account of its own for the channel
    is refunded through the linked account. Unlinking keeps the row (``UNLINKED``), so
    attempts already sent with it still settle; a new link is a new row.
    """

    __tablename__ = "channel_account_merchants"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        ForeignKeyConstraint(["merchant_id"], ["tenants.id"]),
        ForeignKeyConstraint(["tenant_id", "account_id"],
                             ["payment_channel_accounts.tenant_id",
                              "payment_channel_accounts.id"]),
        Index("uq_channel_account_merchants_active", "tenant_id", "account_id", "merchant_id",
              unique=True, postgresql_where=ACTIVE_LINK, sqlite_where=ACTIVE_LINK),
        Index("ix_channel_account_merchants_merchant", "tenant_id", "merchant_id"),
    )

    tenant_id: uuid.UUID = tenant_pk()
    id: uuid.UUID = id_pk()
    account_id: uuid.UUID
    merchant_id: uuid.UUID
    status: str = Field(default=LinkStatus.ACTIVE.value, max_length=16)
    # WeChat Pay: the merchant's sub_mchid (not secret; shown).
    sub_merchant_ref: str | None = Field(default=None, max_length=32)
    # Alipay: {"app_auth_token": ...} sealed with the key ring; never returned.
    secrets_enc: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_by: str = Field(max_length=80)
    created_at: datetime = now_column()
    unlinked_at: datetime | None = timestamp()
    unlinked_by: str | None = Field(default=None, max_length=80)

    @property
    def active(self) -> bool:
        return self.status == LinkStatus.ACTIVE.value


class PaymentChannelAccountEvent(SQLModel, table=True):
    """Append-only audit trail: who changed which fields of an account, never values of
    secrets (``fields`` names them; ``data`` holds only public identifiers)."""

    __tablename__ = "payment_channel_account_events"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        ForeignKeyConstraint(["tenant_id", "account_id"],
                             ["payment_channel_accounts.tenant_id",
                              "payment_channel_accounts.id"]),
        Index("ix_payment_channel_account_events_account", "tenant_id", "account_id",
              "occurred_at"),
    )

    tenant_id: uuid.UUID = tenant_pk()
    id: uuid.UUID = id_pk()
    account_id: uuid.UUID
    action: str = Field(max_length=32)
    actor: str = Field(max_length=80)
    fields: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    occurred_at: datetime = now_column()
