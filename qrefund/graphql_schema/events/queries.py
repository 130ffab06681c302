"""events: the feed of committed events, with each event's snapshot (see
:mod:`qrefund.platform.events.feed` for the cursor and paging rules)."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.context import Info
from qrefund.graphql_schema.errors import query_error
from qrefund.graphql_schema.relay import PageInfo
from qrefund.platform.errors import DomainError
from qrefund.platform.events import feed
from qrefund.platform.events.feed import FeedEvent

# The node type of each public family's subject (global ids name their tenant).
# A digest's subject is the merchant or agency it is about (a Tenant id of one part).
SUBJECT_NODE = {"refund_case": "RefundCase", "complaint": "ComplaintTicket",
                "payout": "Payout", "refund_policy": "RefundPolicy", "digest": "Tenant"}


@strawberry.type(description="A committed event and its subject as of that event.")
class Event:
    cursor: str = strawberry.field(description="Pass as `after` (here, or to "
                                   "refundCaseUpdates/complaintUpdates) to resume after it.")
    id: strawberry.ID = strawberry.field(description="The event's id (Qrefund-Event-Id on "
                                         "webhook deliveries).")
    type: str
    occurred_at: datetime
    merchant_id: strawberry.ID
    subject_id: strawberry.ID = strawberry.field(description="The subject's global id "
                                                 "(RefundCase, ComplaintTicket, Payout, "
                                                 "RefundPolicy; Tenant for digests).")
    snapshot: JSON = strawberry.field(description="The subject as of this event (never as it "
                                      "is now); the shape of each type is in the event "
                                      "catalogue.")

    @classmethod
    def of(cls, e: FeedEvent) -> Event:
        node = SUBJECT_NODE[e.type.partition(".")[0]]
        subject = (ids.encode(node, e.subject_id) if node == "Tenant"
                   else ids.encode(node, e.merchant_id, e.subject_id))
        return cls(cursor=e.cursor, id=strawberry.ID(str(e.id)), type=e.type,
                   occurred_at=e.occurred_at, merchant_id=ids.encode("Tenant", e.merchant_id),
                   subject_id=subject,
                   snapshot=JSON(e.snapshot))


@strawberry.type
class EventEdge:
    node: Event
    cursor: str


@strawberry.type
class EventConnection:
    edges: list[EventEdge]
    page_info: PageInfo


@strawberry.type
class EventQueries:
    @strawberry.field(description="Committed events of the merchants in scope (all of them "
                      "when merchantIds is absent), oldest first; types: exact types, "
                      "`<family>.*` or `*` (default: every public type).")
    async def events(
        self, info: Info, merchant_ids: list[strawberry.ID] | None = None,
        types: list[str] | None = None, after: str | None = None, first: int | None = None,
    ) -> EventConnection:
        ctx = info.context
        try:
            merchants = [ids.tenant_id_of(m, "merchantIds") for m in merchant_ids or ()]
            async with ctx.reading() as uow:
                page = await feed.events_page(uow, merchant_ids=merchants or None,
                                              types=types, after=after, first=first)
        except DomainError as error:
            raise query_error(error) from None
        edges = [EventEdge(node=Event.of(e), cursor=e.cursor) for e in page.events]
        return EventConnection(edges=edges, page_info=PageInfo(
            has_next_page=page.has_next_page, has_previous_page=bool(after),
            start_cursor=edges[0].cursor if edges else None, end_cursor=page.end_cursor))
