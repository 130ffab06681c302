"""All SQL of payouts: attempts, their events, and the payout sweep's look-ups."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, exists, literal_column, select, tuple_
from sqlmodel import col

from qrefund.platform.payouts.models import Payout, PayoutEvent, PayoutStatus
from qrefund.platform.refunds.models import RefundCase
from qrefund.platform.repository import Key, TenantRepository, scoped_to
from qrefund.platform.scope import TenantScope

_LIVE = [PayoutStatus.PENDING.value, PayoutStatus.PROCESSING.value]


class PayoutRepository(TenantRepository[Payout]):
    model = Payout

    async def for_cases(self, keys: Sequence[Key]) -> list[Payout]:
        """Every attempt of each (tenant, case), oldest first: one statement."""
        wanted = [k for k in keys if self.scope.allows(k[0])]
        if not wanted:
            return []
        stmt = self.select(self.key_in(wanted, col(Payout.tenant_id), col(Payout.case_id)))
        return await self.all(stmt.order_by(col(Payout.attempt)))

    async def latest(self, tenant_id: uuid.UUID, case_id: uuid.UUID) -> Payout | None:
        stmt = self.select(col(Payout.tenant_id) == tenant_id, col(Payout.case_id) == case_id)
        return await self.first(stmt.order_by(col(Payout.attempt).desc()).limit(1))

    async def by_out_refund_no(self, tenant_id: uuid.UUID, out_refund_no: str
                               ) -> Payout | None:
        return await self.first(self.select(col(Payout.tenant_id) == tenant_id,
                                            col(Payout.out_refund_no) == out_refund_no))

    async def by_out_refund_no_among(self, tenant_ids: Sequence[uuid.UUID],
                                     out_refund_no: str) -> list[Payout]:
        """The attempts with this number among these tenants (a callback to an agency's
        account: its linked merchants; the number holds the case id, so one at most in
        practice)."""
        wanted = [t for t in tenant_ids if self.scope.allows(t)]
        if not wanted:
            return []
        return await self.all(self.select(col(Payout.tenant_id).in_(sorted(wanted)),
                                          col(Payout.out_refund_no) == out_refund_no))

    async def through_accounts(self, changed_since: datetime, limit: int) -> list[Payout]:
        """Payouts sent through a channel account and changed since (reconciliation;
        the partial index ix_payouts_reconcile), oldest change first."""
        stmt = self.select(col(Payout.channel_account_id).is_not(None),
                           col(Payout.updated_at) >= changed_since)
        return await self.all(stmt.order_by(col(Payout.updated_at)).limit(limit))

    async def through_accounts_created(self, start: datetime, end: datetime, limit: int
                                       ) -> list[Payout]:
        """Payouts sent through a channel account and created in [start, end) (the
        refund-bill comparison of one day; the partial index ix_payouts_bill_day),
        grouped by tenant and account."""
        stmt = self.select(col(Payout.channel_account_id).is_not(None),
                           col(Payout.created_at) >= start, col(Payout.created_at) < end)
        return await self.all(stmt.order_by(
            col(Payout.tenant_id), col(Payout.channel_account_id), col(Payout.created_at),
            col(Payout.id)).limit(limit))

    async def with_discrepancy(self, tenant_ids: Sequence[uuid.UUID] | None,
                               limit: int) -> list[Payout]:
        conditions: list[Any] = [col(Payout.discrepancy).is_not(None)]
        if tenant_ids is not None:
            conditions.append(col(Payout.tenant_id).in_(list(tenant_ids)))
        stmt = self.select(*conditions).order_by(col(Payout.tenant_id), col(Payout.id))
        return await self.all(stmt.limit(limit))

    async def attempts(self, tenant_id: uuid.UUID, case_id: uuid.UUID) -> int:
        return int(await self.scalar(self.count(col(Payout.tenant_id) == tenant_id,
                                                col(Payout.case_id) == case_id)))

    async def due(self, now: datetime, limit: int) -> list[Payout]:
        """Live payouts whose next check is due (index-backed)."""
        stmt = self.select(col(Payout.next_check_at).is_not(None),
                           col(Payout.next_check_at) <= now)
        return await self.all(stmt.order_by(col(Payout.next_check_at)).limit(limit))

    def stranded(self, approved_before: datetime, limit: int, *,
                 after: tuple[datetime, uuid.UUID, uuid.UUID] | None = None) -> Select[Any]:
        return stranded_statement(self.scope, approved_before, limit, after=after)


class PayoutEventRepository(TenantRepository[PayoutEvent]):
    model = PayoutEvent


def stranded_statement(scope: TenantScope, approved_before: datetime, limit: int, *,
                       after: tuple[datetime, uuid.UUID, uuid.UUID] | None = None
                       ) -> Select[Any]:
    """APPROVED cases approved before ``approved_before`` with no live payout, oldest
    first (the payout sweep): read through the partial index on refund cases. A
    function of its own so tests and the benchmark can check its plan."""
    live_payout = exists().where(col(Payout.tenant_id) == col(RefundCase.tenant_id),
                                 col(Payout.case_id) == col(RefundCase.id),
                                 col(Payout.status).in_(_LIVE))
    order = (col(RefundCase.approved_at), col(RefundCase.tenant_id), col(RefundCase.id))
    # A literal, not a parameter: PostgreSQL matches a partial index only to a
    # predicate it can see at planning time.
    stmt = select(col(RefundCase.approved_at)).where(
        col(RefundCase.status) == literal_column("'APPROVED'"),
        col(RefundCase.approved_at) <= approved_before, ~live_payout)
    if after is not None:
        stmt = stmt.where(tuple_(*order) > tuple_(*after))
    stmt = scoped_to(stmt, col(RefundCase.tenant_id), scope)
    return stmt.add_columns(col(RefundCase.tenant_id), col(RefundCase.id)).order_by(
        *order).limit(limit)
