"""All SQL of the webhooks domain: endpoints, deliveries and the attempt log.

Every statement is built by a :class:`~qrefund.platform.repository.TenantRepository`
and so carries the caller's scope. A delivery (and its attempts) belongs to the
endpoint's tenant, so an agency's deliveries of a merchant's event are the agency's
rows; the fan-out job, which runs in the system scope, writes them.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlmodel import col

from qrefund.platform.repository import Key, TenantRepository
from qrefund.platform.webhooks.models import (
    EndpointStatus,
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookEndpoint,
)


class WebhookEndpointRepository(TenantRepository[WebhookEndpoint]):
    model = WebhookEndpoint

    async def active(self, owners: Sequence[uuid.UUID]) -> list[WebhookEndpoint]:
        """The active endpoints of these tenants (one owner's, or an event's tenant chain)."""
        return await self.all(self.select(
            col(WebhookEndpoint.tenant_id).in_(list(owners)),
            col(WebhookEndpoint.status) == EndpointStatus.ACTIVE.value))

    async def page(self, *, owners: Sequence[uuid.UUID] | None, status: str | None,
                   after: uuid.UUID | None, first: int) -> list[WebhookEndpoint]:
        """Oldest first (ids are time-ordered), ``first + 1`` rows (keyset)."""
        conditions: list[Any] = []
        if owners is not None:
            conditions.append(col(WebhookEndpoint.tenant_id).in_(list(owners)))
        if status is not None:
            conditions.append(col(WebhookEndpoint.status) == status)
        if after is not None:
            conditions.append(col(WebhookEndpoint.id) > after)
        stmt = self.select(*conditions).order_by(col(WebhookEndpoint.id)).limit(first + 1)
        return await self.all(stmt)


class WebhookDeliveryRepository(TenantRepository[WebhookDelivery]):
    model = WebhookDelivery

    @staticmethod
    def _of_endpoint(tenant_id: uuid.UUID, endpoint_id: uuid.UUID,
                     statuses: Sequence[str] | None) -> list[Any]:
        conditions: list[Any] = [col(WebhookDelivery.tenant_id) == tenant_id,
                                 col(WebhookDelivery.endpoint_id) == endpoint_id]
        if statuses:
            conditions.append(col(WebhookDelivery.status).in_(list(statuses)))
        return conditions

    async def page(self, tenant_id: uuid.UUID, endpoint_id: uuid.UUID, *,
                   statuses: Sequence[str] | None, before: uuid.UUID | None,
                   first: int) -> list[WebhookDelivery]:
        """An endpoint's deliveries, newest first, ``first + 1`` rows (keyset)."""
        conditions = self._of_endpoint(tenant_id, endpoint_id, statuses)
        if before is not None:
            conditions.append(col(WebhookDelivery.id) < before)
        stmt = self.select(*conditions).order_by(col(WebhookDelivery.id).desc())
        return await self.all(stmt.limit(first + 1))

    async def count_of_endpoint(self, tenant_id: uuid.UUID, endpoint_id: uuid.UUID,
                                statuses: Sequence[str] | None) -> int:
        return int(await self.scalar(self.count(
            *self._of_endpoint(tenant_id, endpoint_id, statuses))))

    async def claimable(self, tenant_id: uuid.UUID, delivery_id: uuid.UUID
                        ) -> WebhookDelivery | None:
        """The delivery under its row lock, or None if another worker holds the lock
        (``SKIP LOCKED``: that worker is claiming it) or it is out of scope."""
        if not self.scope.allows(tenant_id):
            return None
        stmt = self.select(col(WebhookDelivery.tenant_id) == tenant_id,
                           col(WebhookDelivery.id) == delivery_id)
        return await self.first(stmt.with_for_update(skip_locked=True))

    async def endpoints_with_event(self, owners: Sequence[uuid.UUID], event_id: uuid.UUID
                                   ) -> set[Key]:
        """(tenant, endpoint) of the deliveries these tenants already have of an event."""
        stmt = self.select_columns(
            col(WebhookDelivery.tenant_id), col(WebhookDelivery.endpoint_id),
            where=[col(WebhookDelivery.tenant_id).in_(list(owners)),
                   col(WebhookDelivery.event_id) == event_id])
        rows: Sequence[Any] = await self.rows(stmt)
        return {(row[0], row[1]) for row in rows}

    async def due(self, now: datetime, limit: int) -> list[tuple[uuid.UUID, uuid.UUID, int]]:
        """(tenant, id, attempts) of deliveries whose next attempt (or lease end) has come,
        the longest waiting first (the partial index on ``next_attempt_at``)."""
        next_at = col(WebhookDelivery.next_attempt_at)
        stmt = self.select_columns(
            col(WebhookDelivery.tenant_id), col(WebhookDelivery.id),
            col(WebhookDelivery.attempts),
            where=[next_at.is_not(None), next_at <= now],
        ).order_by(next_at).limit(limit)
        rows: Sequence[Any] = await self.rows(stmt)
        return [(row[0], row[1], row[2]) for row in rows]


class WebhookDeliveryAttemptRepository(TenantRepository[WebhookDeliveryAttempt]):
    model = WebhookDeliveryAttempt

    async def by_deliveries(self, keys: Iterable[Key]) -> dict[Key, list[WebhookDeliveryAttempt]]:
        """Every attempt of each (tenant, delivery), oldest first, in one statement; keys
        outside the scope are left out."""
        found: dict[Key, list[WebhookDeliveryAttempt]] = defaultdict(list)
        wanted = self.keys_in_scope(keys)
        if wanted:
            model = WebhookDeliveryAttempt
            stmt = self.select(self.key_in(wanted, col(model.tenant_id), col(model.delivery_id)))
            stmt = stmt.order_by(col(model.delivery_id), col(model.number))
            for row in await self.all(stmt):
                found[(row.tenant_id, row.delivery_id)].append(row)
        return found
