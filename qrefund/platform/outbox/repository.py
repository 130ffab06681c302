"""SQL of the outbox's domain events (inside the caller's scope, see TenantRepository).

Minimal for now: other domains read an event by its key through
:func:`qrefund.platform.outbox.service.event_by_id`.
"""

from __future__ import annotations

from qrefund.platform.outbox.models import DomainEvent
from qrefund.platform.repository import TenantRepository


class DomainEventRepository(TenantRepository[DomainEvent]):
    model = DomainEvent
