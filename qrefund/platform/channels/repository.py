"""All SQL of payment channel accounts and their audit trail."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlmodel import col

from qrefund.platform.channels.models import (
    AccountStatus,
    PaymentChannelAccount,
    PaymentChannelAccountEvent,
)
from qrefund.platform.repository import TenantRepository


class PaymentChannelAccountRepository(TenantRepository[PaymentChannelAccount]):
    model = PaymentChannelAccount

    async def for_channel(self, tenant_id: uuid.UUID, channel: str, *, enabled_only: bool
                          ) -> PaymentChannelAccount | None:
        conditions = [col(PaymentChannelAccount.tenant_id) == tenant_id,
                      col(PaymentChannelAccount.channel) == channel]
        if enabled_only:
            conditions.append(col(PaymentChannelAccount.status) == AccountStatus.ENABLED.value)
        return await self.first(self.select(*conditions))

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
