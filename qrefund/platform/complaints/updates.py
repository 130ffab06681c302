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

from qrefund.platform.complaints import events, queries, service
from qrefund.platform.complaints.models import ComplaintTicket
from qrefund.platform.db import Database, UnitOfWork
from qrefund.platform.outbox import feed, stream
from qrefund.platform.outbox.hub import Hub
from qrefund.platform.roles import Permission
from qrefund.platform.scope import TenantScope

TicketUpdate = stream.Update[ComplaintTicket]


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
    withheld = frozenset() if queries.sees_notes(scope) else events.STAFF_ONLY
    return stream.subject_updates(db, hub, scope, tenants, events.AGGREGATE, cursor, _ticket,
                                  withheld=withheld)


async def _ticket(uow: UnitOfWork, item: feed.FeedItem) -> ComplaintTicket:
    return await service.read_ticket(uow, item.tenant_id, item.aggregate_id)
