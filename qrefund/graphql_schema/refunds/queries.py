"""refundCases: a filtered, sorted, keyset-paginated connection."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.context import Context, Info
from qrefund.graphql_schema.paging import filtered_page, rendered_connection
from qrefund.graphql_schema.refunds.recipes import case_recipes
from qrefund.graphql_schema.refunds.types import (
    RefundCaseType,
    case_with_payment_loader,
    prime_case_relations,
)
from qrefund.graphql_schema.relay import Connection, Node
from qrefund.graphql_schema.selection import wants_path
from qrefund.graphql_schema.vocabulary import RefundCaseStatus, RefundReason, RequestChannel
from qrefund.platform.refunds import queries
from qrefund.platform.refunds.queries import CaseFilter
from qrefund.platform.refunds.queries import CaseOrder as DomainOrder

RefundCaseOrder = strawberry.enum(DomainOrder, name="RefundCaseOrder")


@strawberry.input
class RefundCaseFilterInput:
    status: list[RefundCaseStatus] | None = None  # type: ignore[valid-type]
    merchant_ids: list[strawberry.ID] | None = None
    reason: list[RefundReason] | None = None  # type: ignore[valid-type]
    channel: list[RequestChannel] | None = None  # type: ignore[valid-type]
    created_from: datetime | None = None
    created_to: datetime | None = None
    overdue: bool | None = strawberry.field(
        default=None, description="true: the running deadline has passed; false: it has not "
        "(or no deadline is running).")
    due_before: datetime | None = strawberry.field(
        default=None, description="The running deadline falls before this instant.")
    escalation_level: int | None = None
    min_escalation_level: int | None = None
    assignee: str | None = None
    transaction_id: strawberry.ID | None = None


def to_filter(f: RefundCaseFilterInput | None) -> CaseFilter:
    if f is None:
        return CaseFilter()
    return CaseFilter(
        statuses=list(f.status) if f.status else None,
        merchant_ids=([ids.tenant_id_of(m, "merchantIds") for m in f.merchant_ids]
                      if f.merchant_ids is not None else None),
        reasons=list(f.reason) if f.reason else None,
        channels=list(f.channel) if f.channel else None,
        created_from=f.created_from, created_to=f.created_to, overdue=f.overdue,
        due_before=f.due_before, escalation_level=f.escalation_level,
        min_escalation_level=f.min_escalation_level, assignee=f.assignee,
        transaction_id=(ids.scoped_id(f.transaction_id, "Transaction", "transactionId")
                        if f.transaction_id else None),
    )


@strawberry.type
class RefundQueries:
    @strawberry.field(description="Refund cases in the caller's scope; newest first unless "
                      "orderBy says otherwise.")
    async def refund_cases(
        self, info: Info, first: int | None = None, after: str | None = None,
        filter: RefundCaseFilterInput | None = None,
        order_by: RefundCaseOrder = DomainOrder.CREATED_DESC,  # type: ignore[valid-type]
    ) -> Connection[RefundCaseType]:
        # A page that shows its cases' payments or latest entries reads them with the
        # cases, in one statement, and hands them to the loaders those fields ask.
        payments = wants_path(info, "edges", "node", "transaction")
        last_events = wants_path(info, "edges", "node", "lastEvent")
        rendered = await rendered_connection(
            info, case_recipes(), first, lambda: to_filter(filter),
            lambda uow, flt, size, node: queries.rendered_page(
                uow, flt, order=DomainOrder(order_by), first=size, after=after, node=node,
                transactions=payments, last_events=last_events),
            queries.count)
        if rendered is not None:
            return rendered
        page, total = await filtered_page(
            info, first, lambda: to_filter(filter),
            lambda uow, flt, size: queries.list_page(
                uow, flt, order=DomainOrder(order_by), first=size, after=after,
                transactions=payments, last_events=last_events),
            queries.count)
        prime_case_relations(info.context, page)
        nodes = [RefundCaseType.of(c) for c in page.items]
        return Connection[RefundCaseType].build(page, nodes, total)


async def refund_case_node(ctx: Context, parts: list[uuid.UUID]) -> Node | None:
    """node(id) for RefundCase ids."""
    if len(parts) != 2:
        return None
    # Its payment comes in the same statement: a case is rarely shown without it.
    case = await case_with_payment_loader(ctx).load((parts[0], parts[1]))
    return RefundCaseType.of(case) if case else None

