"""Live changes over graphql-transport-ws: refundCaseUpdates and complaintUpdates.

Each stream itself (permission, merchants, replay from the cursor, then the live
tail through the process's pub/sub hub) is a domain function
(:func:`qrefund.platform.refunds.updates.refund_case_updates`,
:func:`qrefund.platform.complaints.updates.complaint_updates`); these resolvers parse
the arguments and map each update to GraphQL, reading what it nests afresh for
every update (:meth:`SocketContext.end_reads`).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from datetime import datetime
from typing import Any, TypeVar

import strawberry
from strawberry.scalars import JSON

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.complaints.types import ComplaintTicketType
from qrefund.graphql_schema.context import Info
from qrefund.graphql_schema.errors import ExpectedGraphQLError, RequestError, query_error
from qrefund.graphql_schema.refunds.types import RefundCaseType
from qrefund.graphql_schema.websocket import SocketContext
from qrefund.platform.complaints.updates import TicketUpdate, complaint_updates
from qrefund.platform.errors import DomainError
from qrefund.platform.refunds.updates import CaseUpdate, refund_case_updates

U = TypeVar("U")
T = TypeVar("T")


@strawberry.type
class RefundCaseUpdate:
    cursor: str = strawberry.field(description="Pass as `after` to resume after this update.")
    event_type: str
    occurred_at: datetime
    snapshot: JSON = strawberry.field(
        description="The case as of this event (status, amounts, deadlines, escalation): a "
        "replay shows what happened then. The shape is refund_case's in the event catalogue."
    )
    refund_case: RefundCaseType | None = strawberry.field(
        description="The case as it is now; null if it is no longer visible."
    )

    @classmethod
    def of(cls, update: CaseUpdate) -> RefundCaseUpdate:
        return cls(
            cursor=update.cursor,
            event_type=update.event_type,
            occurred_at=update.occurred_at,
            snapshot=JSON(update.snapshot),
            refund_case=RefundCaseType.of(update.subject) if update.subject is not None else None,
        )


@strawberry.type(description="One change of a complaint ticket. It never carries an "
                 "internal note: the ticket's thread and timeline leave them out here.")
class ComplaintUpdate:
    cursor: str = strawberry.field(description="Pass as `after` to resume after this update.")
    event_type: str = strawberry.field(description="complaint.opened, complaint.assigned, "
                                       "complaint.replied, complaint.resolved, ...")
    occurred_at: datetime
    snapshot: JSON = strawberry.field(
        description="The ticket as of this event (status, priority, assignee, deadlines, "
        "escalation; never the description, contact or an internal note). The shape is "
        "complaint's in the event catalogue."
    )
    complaint_ticket: ComplaintTicketType | None = strawberry.field(
        description="The ticket as it is now; null if it is no longer visible."
    )

    @classmethod
    def of(cls, update: TicketUpdate) -> ComplaintUpdate:
        ticket = update.subject
        return cls(
            cursor=update.cursor,
            event_type=update.event_type,
            occurred_at=update.occurred_at,
            snapshot=JSON(update.snapshot),
            complaint_ticket=ComplaintTicketType.of(ticket) if ticket is not None else None,
        )


async def _stream(
    info: Info, merchant_ids: list[strawberry.ID] | None,
    start: Callable[[SocketContext, list[Any]], AsyncGenerator[U, None]],
    to_graphql: Callable[[U], T],
) -> AsyncGenerator[T, None]:
    """The socket check, the argument errors, and the loop every subscription shares."""
    ctx = info.context
    ctx.require_scope()
    if not isinstance(ctx, SocketContext):
        raise ExpectedGraphQLError("subscriptions run over WebSocket (graphql-transport-ws)",
                                   extensions={"code": RequestError.WEBSOCKET_REQUIRED})
    try:
        merchants = [ids.tenant_id_of(m, "merchantIds") for m in merchant_ids or ()]
        updates = start(ctx, merchants)
    except DomainError as error:
        raise query_error(error) from None
    async with aclosing(updates):
        async for update in updates:
            yield to_graphql(update)
            # The update has been resolved and sent: read the next one afresh.
            await ctx.end_reads()


@strawberry.type
class Subscription:
    @strawberry.subscription(description="Refund case changes for merchants in scope.")
    async def refund_case_updates(
        self, info: Info, merchant_ids: list[strawberry.ID] | None = None, after: str | None = None
    ) -> AsyncGenerator[RefundCaseUpdate, None]:
        def start(ctx: SocketContext, merchants: list[Any]) -> AsyncGenerator[CaseUpdate, None]:
            assert ctx.scope is not None
            return refund_case_updates(ctx.db, ctx.hub, ctx.scope,
                                       merchant_ids=merchants or None, after=after)

        async with aclosing(_stream(info, merchant_ids, start, RefundCaseUpdate.of)) as updates:
            async for update in updates:
                yield update

    @strawberry.subscription(description="Complaint ticket changes for merchants in scope "
                             "(an agency key: its merchants; a merchant key: itself). "
                             "Internal notes are never pushed; an internal note added reaches "
                             "only staff who may read notes, as complaint.note_added.")
    async def complaint_updates(
        self, info: Info, merchant_ids: list[strawberry.ID] | None = None, after: str | None = None
    ) -> AsyncGenerator[ComplaintUpdate, None]:
        def start(ctx: SocketContext, merchants: list[Any]) -> AsyncGenerator[TicketUpdate, None]:
            assert ctx.scope is not None
            # Before anything loads: this operation's loaders leave internal notes out.
            ctx.withhold_internal_notes = True
            return complaint_updates(ctx.db, ctx.hub, ctx.scope,
                                     merchant_ids=merchants or None, after=after)

        async with aclosing(_stream(info, merchant_ids, start, ComplaintUpdate.of)) as updates:
            async for update in updates:
                yield update
