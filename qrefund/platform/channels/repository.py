"""All SQL of payment channel accounts and their audit trail."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Uuid, bindparam, text
from sqlmodel import col, select

from qrefund.platform.channels.models import (
    AccountStatus,
    ChannelAccountMerchant,
    PaymentChannelAccount,
    PaymentChannelAccountEvent,
)
from qrefund.platform.repository import SCOPED_OPTION, TenantRepository

PARENT_READ = ("a merchant's own links on its parent agency's service-provider accounts, and "
               "those accounts (the parent recorded on the merchant, nothing else)")


class PaymentChannelAccountRepository(TenantRepository[PaymentChannelAccount]):
    model = PaymentChannelAccount

    async def for_channel(self, tenant_id: uuid.UUID, channel: str, *, enabled_only: bool,
                          view: bool = False) -> PaymentChannelAccount | None:
        """The merchant's account of this channel; ``view``: as a read-only view."""
        def build() -> Any:  # kept: built once (every approval routes its payout)
            conditions = [col(PaymentChannelAccount.tenant_id) == bindparam("tenant", type_=Uuid),
                          col(PaymentChannelAccount.channel) == bindparam("channel")]
            if enabled_only:
                conditions.append(
                    col(PaymentChannelAccount.status) == AccountStatus.ENABLED.value)
            stmt = self.kept_select(*conditions).limit(1)
            return self.kept_view(stmt) if view else stmt

        stmt, params = self.kept(("for_channel", enabled_only, view), build)
        params.update(tenant=tenant_id, channel=channel)
        return await (self.first_kept_view(stmt, params) if view
                      else self.first(stmt, params))

    async def of_tenants(self, tenant_ids: Sequence[uuid.UUID] | None
                         ) -> list[PaymentChannelAccount]:
        """Every account in scope (of these tenants), in creation order (a short list:
        at most one per tenant and channel)."""
        conditions = ([col(PaymentChannelAccount.tenant_id).in_(list(tenant_ids))]
                      if tenant_ids is not None else [])
        stmt = self.select(*conditions).order_by(col(PaymentChannelAccount.tenant_id),
                                                 col(PaymentChannelAccount.id))
        return await self.all(stmt)


class PaymentChannelAccountEventRepository(TenantRepository[PaymentChannelAccountEvent]):
    model = PaymentChannelAccountEvent

    async def of_account(self, tenant_id: uuid.UUID, account_id: uuid.UUID
                         ) -> list[PaymentChannelAccountEvent]:
        stmt = self.select(col(PaymentChannelAccountEvent.tenant_id) == tenant_id,
                           col(PaymentChannelAccountEvent.account_id) == account_id)
        return await self.all(stmt.order_by(col(PaymentChannelAccountEvent.occurred_at),
                                            col(PaymentChannelAccountEvent.id)))


class ChannelAccountMerchantRepository(TenantRepository[ChannelAccountMerchant]):
    model = ChannelAccountMerchant

    async def of_account(self, tenant_id: uuid.UUID, account_id: uuid.UUID
                         ) -> list[ChannelAccountMerchant]:
        """Every link of an account (live and unlinked), oldest first."""
        stmt = self.select(col(ChannelAccountMerchant.tenant_id) == tenant_id,
                           col(ChannelAccountMerchant.account_id) == account_id)
        return await self.all(stmt.order_by(col(ChannelAccountMerchant.created_at),
                                            col(ChannelAccountMerchant.id)))

    async def active(self, tenant_id: uuid.UUID, account_id: uuid.UUID,
                     merchant_id: uuid.UUID) -> ChannelAccountMerchant | None:
        return await self.first(self.select(
            col(ChannelAccountMerchant.tenant_id) == tenant_id,
            col(ChannelAccountMerchant.account_id) == account_id,
            col(ChannelAccountMerchant.merchant_id) == merchant_id,
            col(ChannelAccountMerchant.status) == "ACTIVE"))

    async def by_sub_merchant(self, tenant_id: uuid.UUID, account_id: uuid.UUID,
                              sub_merchant_ref: str) -> list[ChannelAccountMerchant]:
        """The links of an account with this sub_mchid (a callback names it), newest first."""
        stmt = self.select(col(ChannelAccountMerchant.tenant_id) == tenant_id,
                           col(ChannelAccountMerchant.account_id) == account_id,
                           col(ChannelAccountMerchant.sub_merchant_ref) == sub_merchant_ref)
        return await self.all(stmt.order_by(col(ChannelAccountMerchant.created_at).desc()))

    async def of_parent(self, merchant_id: uuid.UUID, parent_id: uuid.UUID
                        ) -> list[tuple[ChannelAccountMerchant, PaymentChannelAccount]]:
        """The merchant's links on its parent agency's accounts, each with its account:
        a read beyond the merchant's scope, bounded to the parent recorded on the merchant.

        PostgreSQL: through ``qrefund_parent_links`` / ``qrefund_parent_accounts``
        (migration 0017), which narrow the RLS settings to exactly that parent for their
        one query, so the table policies never widen. SQLite (no RLS): the same rows by
        a plain read. Rows of another tenant than ``parent_id`` are dropped either way.
        """
        if not self.scope.allows(merchant_id):
            return []
        accounts: list[PaymentChannelAccount]
        if self.uow.is_sqlite:
            stmt = self.beyond_scope(col(ChannelAccountMerchant.tenant_id) == parent_id,
                                     col(ChannelAccountMerchant.merchant_id) == merchant_id,
                                     why=PARENT_READ)
            links = await self.all(stmt)
            account_repo = PaymentChannelAccountRepository(self.uow)
            accounts = await account_repo.all(account_repo.beyond_scope(
                col(PaymentChannelAccount.tenant_id) == parent_id,
                col(PaymentChannelAccount.id).in_([link.account_id for link in links]),
                why=PARENT_READ))
        else:
            links = await self.all(self._parent_read(ChannelAccountMerchant,
                                                     "qrefund_parent_links", merchant_id))
            accounts = list((await self.execute(self._parent_read(
                PaymentChannelAccount, "qrefund_parent_accounts", merchant_id))).scalars())
        by_id = {(a.tenant_id, a.id): a for a in accounts if a.tenant_id == parent_id}
        return [(link, by_id[(link.tenant_id, link.account_id)]) for link in links
                if link.tenant_id == parent_id and link.merchant_id == merchant_id
                and (link.tenant_id, link.account_id) in by_id]

    @staticmethod
    def _parent_read(model: type[Any], function: str, merchant_id: uuid.UUID) -> Any:
        columns = model.__table__.c  # type: ignore[attr-defined]
        query = text(f"SELECT * FROM {function}(:merchant)").bindparams(merchant=merchant_id)
        return select(model).from_statement(query.columns(*columns)).execution_options(
            **{SCOPED_OPTION: True, "qrefund_beyond_scope": PARENT_READ})
