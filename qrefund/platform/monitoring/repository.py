"""The two aggregate reads a metrics scrape makes, each one statement.

Both run under the system scope and read only through indexes whose size
follows the work outstanding, not the history: live deadline timers
(``next_check_at IS NOT NULL``, a partial index) past their warning time, and
unrelayed outbox events (``ix_domain_events_unrelayed``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlmodel import col

from qrefund.platform.deadlines.models import DeadlineTimer
from qrefund.platform.outbox.models import DomainEvent
from qrefund.platform.repository import TenantRepository
from qrefund.tenants.models import Tenant


class DeadlineRiskRepository(TenantRepository[DeadlineTimer]):
    model = DeadlineTimer

    async def at_risk(self, now: datetime) -> Sequence[Any]:
        """(subject type, kind, state ``near``/``past``, tier, count) of live timers."""
        state = case((col(DeadlineTimer.due_at) <= now, "past"), else_="near")
        tier = case((col(Tenant.parent_id).is_(None), "standalone"), else_="agency")
        stmt = (select(col(DeadlineTimer.subject_type), col(DeadlineTimer.kind),
                       state.label("state"), tier.label("tier"), func.count())
                .join(Tenant, col(Tenant.id) == col(DeadlineTimer.tenant_id))
                .where(col(DeadlineTimer.next_check_at).is_not(None),
                       col(DeadlineTimer.warn_at) <= now)
                .group_by(col(DeadlineTimer.subject_type), col(DeadlineTimer.kind),
                          state, tier))
        return await self.rows(self.scoped(stmt))


class OutboxLagRepository(TenantRepository[DomainEvent]):
    model = DomainEvent

    async def unrelayed(self) -> tuple[datetime | None, int]:
        """The oldest unrelayed event's time and how many wait."""
        stmt: Any = select(func.min(col(DomainEvent.occurred_at)), func.count()).where(
            col(DomainEvent.relayed_at).is_(None))
        row: Any = (await self.rows(self.scoped(stmt)))[0]
        return row[0], int(row[1])
