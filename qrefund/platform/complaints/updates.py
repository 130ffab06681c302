"""Complaint ticket updates for live subscribers (``complaintUpdates``).

:func:`complaint_updates` checks the caller and its arguments at once, then returns
the stream: every committed ``complaint.*`` event of the chosen merchants after the
cursor (replayed from the table, then live through the process's pub/sub hub), each
with the ticket as it is now, read in the caller's scope.

Internal notes: an update never carries one. The events of staff-only timeline
entries (:data:`events.STAFF_ONLY`: an internal note added, a priority override) reach
only subscribers who may read internal notes, as a signal (type and ticket), and the
GraphQL layer shows the ticket without internal notes to every subscriber; staff
read the note itself with a query.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from qrefund.platform.complaints import events, queries, service
from qrefund.platform.complaints.models import ComplaintTicket
from qrefund.platform.db import Database
from qrefund.platform.errors import DomainError
from qrefund.platform.outbox import feed, stream
from qrefund.platform.outbox.hub import Hub
from qrefund.platform.roles import Permission
from qrefund.platform.scope import TenantScope


@dataclass(frozen=True)
class TicketUpdate:
    cursor: str  # resume after this update
    event_type: str
    occurred_at: datetime
    snapshot: dict[str, Any]  # the ticket as of this event (the event's payload)
    ticket: ComplaintTicket | None  # the ticket now; None once it is no longer visible


def complaint_updates(
    db: Database,
    hub: Hub,
    scope: TenantScope,
    *,
    merchant_ids: Sequence[uuid.UUID] | None,
    after: str | None,
) -> AsyncGenerator[TicketUpdate, None]:
    """Raises a :class:`DomainError` before anything streams (role, merchants, cursor)."""
    scope.require(Permission.SUBSCRIBE)
    scope.require(Permission.READ)  # each update carries the ticket
    tenants = stream.tenants_to_follow(scope, merchant_ids)
    cursor = feed.Cursor.parse(after)
    return _updates(db, hub, scope, tenants, cursor)


async def _updates(
    db: Database, hub: Hub, scope: TenantScope, tenants: list[uuid.UUID],
    cursor: feed.Cursor | None,
) -> AsyncGenerator[TicketUpdate, None]:
    staff = queries.sees_notes(scope)
    items = stream.follow(db, hub, scope, tenants, events.AGGREGATE, cursor)
    async with aclosing(items):  # closing this stream unsubscribes at once
        async for item, position in items:
            if item.type in events.STAFF_ONLY and not staff:
                continue  # the next update's cursor moves past it
            snapshots = await feed.payloads(db, scope, [item])
            yield TicketUpdate(
                cursor=position,
                event_type=item.type,
                occurred_at=datetime.fromisoformat(item.occurred_at),
                snapshot=snapshots.get((item.tenant_id, item.seq), {}),
                ticket=await _ticket(db, scope, item),
            )


async def _ticket(db: Database, scope: TenantScope, item: feed.FeedItem
                  ) -> ComplaintTicket | None:
    try:
        async with db.unit_of_work(scope, readonly=True) as uow:
            ticket = await service.read_ticket(uow, item.tenant_id, item.aggregate_id)
            uow.expunge(ticket)  # a snapshot: the read unit's rollback must not expire it
            return ticket
    except DomainError:
        return None
