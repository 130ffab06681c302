"""SQL of the outbox's domain events (inside the caller's scope, see TenantRepository)."""

from __future__ import annotations

from qrefund.platform.outbox.models import DomainEvent
from qrefund.platform.repository import TenantRepository


class DomainEventRepository(TenantRepository[DomainEvent]):
    model = DomainEvent
