"""All SQL of deadline timers and escalation contacts."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, String, Uuid
from sqlmodel import col

from qrefund.platform.deadlines.models import DeadlineTimer, EscalationContact
from qrefund.platform.repository import Key, TenantRepository

# (tenant id, subject type, subject id, timer name): a timer's primary key.
TimerKey = tuple[uuid.UUID, str, uuid.UUID, str]


_PRIMARY_KEY = (col(DeadlineTimer.tenant_id), col(DeadlineTimer.subject_type),
                col(DeadlineTimer.subject_id), col(DeadlineTimer.name))


class DeadlineTimerRepository(TenantRepository[DeadlineTimer]):
    model = DeadlineTimer

    def _keys_in(self, keys: Sequence[TimerKey]) -> ColumnElement[bool]:
        return self.key_in(keys, *_PRIMARY_KEY, types=(Uuid(), String(), Uuid(), String()))

    async def of_subject(self, subject_type: str, key: Key) -> dict[str, DeadlineTimer]:
        """A subject's timers by name, row-locked and fresh."""
        stmt = self.select(col(DeadlineTimer.tenant_id) == key[0],
                           col(DeadlineTimer.subject_type) == subject_type,
                           col(DeadlineTimer.subject_id) == key[1])
        stmt = stmt.order_by(col(DeadlineTimer.name)).with_for_update()
        rows = await self.all(stmt.execution_options(populate_existing=True))
        return {t.name: t for t in rows}

    async def claim_due(self, now: datetime, limit: int, lease_until: datetime
                        ) -> list[TimerKey]:
        """Up to ``limit`` due timers (oldest check first), moved to ``lease_until``.
        Other sweeps skip the rows this one has locked (PostgreSQL)."""
        stmt = self.select(col(DeadlineTimer.next_check_at).is_not(None),
                           col(DeadlineTimer.next_check_at) <= now)
        stmt = stmt.order_by(col(DeadlineTimer.next_check_at)).limit(limit)
        if not self.uow.is_sqlite:
            stmt = stmt.with_for_update(skip_locked=True)
        keys: list[TimerKey] = [(t.tenant_id, t.subject_type, t.subject_id, t.name)
                                for t in await self.all(stmt)]
        if keys:
            await self.execute(self.update(self._keys_in(keys))
                               .values(next_check_at=lease_until))
        return keys

    async def claimed(self, keys: Sequence[TimerKey], lease: datetime) -> list[DeadlineTimer]:
        """The timers of a batch that still carry its claim, locked, in key order."""
        if not keys:
            return []
        stmt = self.select(self._keys_in(keys), col(DeadlineTimer.next_check_at) == lease)
        stmt = stmt.order_by(*_PRIMARY_KEY)
        if not self.uow.is_sqlite:
            stmt = stmt.with_for_update(skip_locked=True)
        return await self.all(stmt.execution_options(populate_existing=True))

    async def back_off(self, key: TimerKey, until: datetime) -> None:
        """Count a failed attempt and look at the timer again at ``until``."""
        await self.execute(self.update(*(c == v for c, v in zip(_PRIMARY_KEY, key, strict=True)))
                           .values(failures=col(DeadlineTimer.failures) + 1,
                                   next_check_at=until))


class EscalationContactRepository(TenantRepository[EscalationContact]):
    model = EscalationContact

    async def of_tenants(self, tenant_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
        wanted = sorted(set(tenant_ids))
        if not wanted:
            return {}
        rows = await self.all(self.select(col(EscalationContact.tenant_id).in_(wanted)))
        return {c.tenant_id: c.assignee for c in rows}

    async def of_tenant(self, tenant_id: uuid.UUID, *, lock: bool = False
                        ) -> EscalationContact | None:
        stmt = self.select(col(EscalationContact.tenant_id) == tenant_id)
        return await self.first(stmt.with_for_update() if lock else stmt)
