"""Per-request data loaders for complaint tickets and what hangs off them.

Each loader batches every key asked for in one tick of the event loop into one
call of a service function in :mod:`qrefund.platform.complaints.queries`, which
also decides what the caller may see (internal notes, a consumer's own tickets); a
context that withholds internal notes (a subscription's) never loads them.
"""

from __future__ import annotations

import uuid
from functools import partial

from strawberry.dataloader import DataLoader

from qrefund.graphql_schema.context import Context
from qrefund.graphql_schema.loaders import batch_loader
from qrefund.platform.complaints import queries
from qrefund.platform.complaints.models import (
    ComplaintAttachment,
    ComplaintEvent,
    ComplaintMessage,
    ComplaintTicket,
)

Key = tuple[uuid.UUID, uuid.UUID]


def ticket_loader(ctx: Context) -> DataLoader[Key, ComplaintTicket | None]:
    return batch_loader(ctx, "complaint_ticket_by_id", queries.tickets_by_id, lambda: None)


def messages_loader(ctx: Context) -> DataLoader[Key, list[ComplaintMessage]]:
    fetch = partial(queries.messages_by_ticket, notes=not ctx.withhold_internal_notes)
    return batch_loader(ctx, "complaint_messages", fetch, list)


def events_loader(ctx: Context) -> DataLoader[Key, list[ComplaintEvent]]:
    fetch = partial(queries.events_by_ticket, notes=not ctx.withhold_internal_notes)
    return batch_loader(ctx, "complaint_events", fetch, list)


def attachments_loader(ctx: Context) -> DataLoader[Key, list[ComplaintAttachment]]:
    return batch_loader(ctx, "complaint_attachments", queries.attachments_by_ticket, list)
