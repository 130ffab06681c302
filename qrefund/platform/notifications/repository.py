"""All SQL of consumer notifications (inside the caller's scope, see TenantRepository)."""

from __future__ import annotations

import uuid

from sqlmodel import col

from qrefund.platform.notifications.models import Notification
from qrefund.platform.repository import TenantRepository


class NotificationRepository(TenantRepository[Notification]):
    model = Notification

    async def by_channel(self, tenant_id: uuid.UUID, event_id: uuid.UUID
                         ) -> dict[str, Notification]:
        """The messages already stored for one event, by channel (at most one each)."""
        stmt = self.select(col(Notification.tenant_id) == tenant_id,
                           col(Notification.event_id) == event_id)
        return {n.channel: n for n in await self.all(stmt)}

    async def for_subject(self, tenant_id: uuid.UUID, subject_type: str, subject_id: uuid.UUID,
                          *, first: int, after: uuid.UUID | None) -> list[Notification]:
        """A subject's messages oldest first (ids are time-ordered), ``first + 1`` rows
        past ``after`` (keyset)."""
        stmt = self.select(col(Notification.tenant_id) == tenant_id,
                           col(Notification.subject_id) == subject_id,
                           col(Notification.subject_type) == subject_type)
        if after is not None:
            stmt = stmt.where(col(Notification.id) > after)
        return await self.all(stmt.order_by(col(Notification.id)).limit(first + 1))
