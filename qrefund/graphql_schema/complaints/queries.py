"""complaintTickets: a filtered, sorted, keyset-paginated connection; node(id) for tickets."""

from __future__ import annotations

import uuid

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.complaints.loaders import ticket_loader
from qrefund.graphql_schema.complaints.recipes import ticket_recipes
from qrefund.graphql_schema.complaints.types import ComplaintTicketType
from qrefund.graphql_schema.complaints.vocabulary import (
    ComplaintCategory,
    ComplaintPriority,
    ComplaintStatus,
    ComplaintTicketOrder,
)
from qrefund.graphql_schema.context import Context, Info
from qrefund.graphql_schema.paging import filtered_page, rendered_connection
from qrefund.graphql_schema.refunds.types import prime_payments
from qrefund.graphql_schema.relay import Connection, Node
from qrefund.graphql_schema.selection import wants_path
from qrefund.platform.complaints import queries
from qrefund.platform.complaints.queries import TicketFilter, TicketOrder


@strawberry.input
class ComplaintTicketFilterInput:
    status: list[ComplaintStatus] | None = None  # type: ignore[valid-type]
    priority: list[ComplaintPriority] | None = None  # type: ignore[valid-type]
    category: list[ComplaintCategory] | None = None  # type: ignore[valid-type]
    assignee: str | None = None
    team: str | None = None
    overdue: bool | None = strawberry.field(
        default=None, description="true: a running deadline has passed; false: none has (or "
        "no deadline is running).")
    merchant_ids: list[strawberry.ID] | None = None
    refund_case_id: strawberry.ID | None = None
    transaction_id: strawberry.ID | None = None
    repeat: bool | None = strawberry.field(
        default=None, description="true: repeat complaints only; false: first complaints only.")
    rating: list[int] | None = strawberry.field(
        default=None, description="Tickets rated with any of these values (1-5).")


def to_filter(f: ComplaintTicketFilterInput | None) -> TicketFilter:
    if f is None:
        return TicketFilter()
    return TicketFilter(
        statuses=list(f.status) if f.status else None,
        priorities=list(f.priority) if f.priority else None,
        categories=list(f.category) if f.category else None,
        assignee=f.assignee, team=f.team, overdue=f.overdue,
        merchant_ids=([ids.tenant_id_of(m, "merchantIds") for m in f.merchant_ids]
                      if f.merchant_ids is not None else None),
        refund_case_id=(ids.scoped_id(f.refund_case_id, "RefundCase", "refundCaseId")
                        if f.refund_case_id else None),
        transaction_id=(ids.scoped_id(f.transaction_id, "Transaction", "transactionId")
                        if f.transaction_id else None),
        repeat=f.repeat, ratings=list(f.rating) if f.rating else None,
    )


@strawberry.type
class ComplaintQueries:
    @strawberry.field(description="Complaint tickets in the caller's scope; newest first "
                      "unless orderBy says otherwise.")
    async def complaint_tickets(
        self, info: Info, first: int | None = None, after: str | None = None,
        filter: ComplaintTicketFilterInput | None = None,
        order_by: ComplaintTicketOrder = TicketOrder.CREATED_DESC,  # type: ignore[valid-type]
    ) -> Connection[ComplaintTicketType]:
        # A page that shows the payments reads them with the tickets (one statement).
        payments = wants_path(info, "edges", "node", "transaction")
        rendered = await rendered_connection(
            info, ticket_recipes(), first, lambda: to_filter(filter),
            lambda uow, flt, size, node: queries.rendered_page(
                uow, flt, order=TicketOrder(order_by), first=size, after=after, node=node,
                transactions=payments),
            queries.count)
        if rendered is not None:
            return rendered
        page, total = await filtered_page(
            info, first, lambda: to_filter(filter),
            lambda uow, flt, size: queries.list_page(uow, flt, order=TicketOrder(order_by),
                                                     first=size, after=after,
                                                     transactions=payments),
            queries.count)
        prime_payments(info.context, page.transactions)
        nodes = [ComplaintTicketType.of(t) for t in page.items]
        return Connection[ComplaintTicketType].build(page, nodes, total)


async def complaint_ticket_node(ctx: Context, parts: list[uuid.UUID]) -> Node | None:
    """node(id) for ComplaintTicket ids."""
    if len(parts) != 2:
        return None
    ticket = await ticket_loader(ctx).load((parts[0], parts[1]))
    return ComplaintTicketType.of(ticket) if ticket else None
