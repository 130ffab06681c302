"""Complaint ticket mutations: open, assign, reply (or note), ask the customer, set the
priority, resolve (with an optional follow-up refund case), close and reopen.

Each is one unit of work calling one service function; a DomainError becomes
``userErrors`` and rolls everything back.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TypeVar

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.complaints.types import ComplaintTicketType
from qrefund.graphql_schema.complaints.vocabulary import (
    ComplaintAssigneeKind,
    ComplaintCategory,
    ComplaintPriority,
    ComplaintResolution,
)
from qrefund.graphql_schema.context import Info
from qrefund.graphql_schema.errors import UserError
from qrefund.graphql_schema.refunds.mutations import EvidenceInput
from qrefund.graphql_schema.vocabulary import RefundMethod, RefundReason, RequestChannel
from qrefund.platform import vocabulary as enums
from qrefund.platform.complaints import intake, service
from qrefund.platform.complaints import vocabulary as complaints
from qrefund.platform.complaints.models import ComplaintTicket
from qrefund.platform.db import UnitOfWork


@strawberry.input
class OpenComplaintInput:
    refund_case_id: strawberry.ID | None = None
    transaction_id: strawberry.ID | None = None
    category: ComplaintCategory  # type: ignore[valid-type]
    description: str
    channel: RequestChannel | None = None  # type: ignore[valid-type]
    priority: ComplaintPriority | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Overrides the derived priority (staff only).")
    contact_phone: str | None = None
    contact_email: str | None = None
    priority_reason: str | None = None
    attachments: list[EvidenceInput] | None = None


@strawberry.input
class AssignComplaintInput:
    id: strawberry.ID
    assignee: str = strawberry.field(description="An agent's name, or with assigneeKind TEAM "
                                     "the team or queue the ticket waits in.")
    assignee_kind: ComplaintAssigneeKind = complaints.AssigneeKind.AGENT  # type: ignore[valid-type]
    team: str | None = strawberry.field(default=None, description="The agent's team (AGENT).")


@strawberry.input
class ReplyToComplaintInput:
    id: strawberry.ID
    message: str
    internal: bool = strawberry.field(
        default=False, description="An internal note: staff views only, never the consumer.")


@strawberry.input
class FollowUpRefundInput:
    amount: Decimal
    reason: RefundReason | None = None  # type: ignore[valid-type]
    method: RefundMethod | None = None  # type: ignore[valid-type]


@strawberry.input
class ResolveComplaintInput:
    id: strawberry.ID
    resolution: ComplaintResolution  # type: ignore[valid-type]
    note: str
    follow_up_refund: FollowUpRefundInput | None = strawberry.field(
        default=None, description="Open a refund case on the same payment (needs a role that "
        "may submit refund requests).")


@strawberry.input
class RequestComplaintInfoInput:
    id: strawberry.ID
    message: str


@strawberry.input
class SetComplaintPriorityInput:
    id: strawberry.ID
    priority: ComplaintPriority  # type: ignore[valid-type]
    reason: str


@strawberry.input
class CloseComplaintInput:
    id: strawberry.ID
    note: str | None = None


@strawberry.input
class ReopenComplaintInput:
    id: strawberry.ID
    reason: str



@strawberry.type
class OpenComplaintPayload:
    complaint_ticket: ComplaintTicketType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class AssignComplaintPayload:
    complaint_ticket: ComplaintTicketType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ReplyToComplaintPayload:
    complaint_ticket: ComplaintTicketType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RequestComplaintInfoPayload:
    complaint_ticket: ComplaintTicketType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SetComplaintPriorityPayload:
    complaint_ticket: ComplaintTicketType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ResolveComplaintPayload:
    complaint_ticket: ComplaintTicketType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CloseComplaintPayload:
    complaint_ticket: ComplaintTicketType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ReopenComplaintPayload:
    complaint_ticket: ComplaintTicketType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


P = TypeVar("P")


async def _run(info: Info, payload: Callable[..., P],
               work: Callable[[UnitOfWork], Awaitable[ComplaintTicket]]) -> P:
    async def unit(uow: UnitOfWork) -> P:
        return payload(complaint_ticket=ComplaintTicketType.of(await work(uow)))

    return await info.context.mutate(unit, lambda errors: payload(user_errors=errors))


def _ticket(gid: strawberry.ID) -> tuple[uuid.UUID, uuid.UUID]:
    return ids.scoped_id(gid, "ComplaintTicket")


def _opening(i: OpenComplaintInput) -> intake.OpenComplaint:
    return intake.OpenComplaint(
        category=complaints.ComplaintCategory(i.category), description=i.description,
        transaction=(ids.scoped_id(i.transaction_id, "Transaction", "transactionId")
                     if i.transaction_id else None),
        refund_case=(ids.scoped_id(i.refund_case_id, "RefundCase", "refundCaseId")
                     if i.refund_case_id else None),
        channel=enums.RequestChannel(i.channel) if i.channel else None,
        priority=complaints.ComplaintPriority(i.priority) if i.priority else None,
        priority_reason=i.priority_reason, contact_phone=i.contact_phone,
        contact_email=i.contact_email,
        attachments=[intake.Attachment(type=enums.EvidenceType(a.type), filename=a.filename,
                                       size=a.size, sha256=a.sha256)
                     for a in i.attachments or []],
    )


def _follow_up(i: FollowUpRefundInput | None) -> service.FollowUpRefund | None:
    if i is None:
        return None
    return service.FollowUpRefund(
        amount=i.amount, reason=enums.RefundReason(i.reason) if i.reason else None,
        method=enums.RefundMethod(i.method) if i.method else None)


@strawberry.type
class ComplaintMutations:
    @strawberry.mutation(description="Open a complaint ticket about a payment or one of its "
                         "refund cases; the priority is derived unless given.")
    async def open_complaint(self, info: Info, input: OpenComplaintInput
                             ) -> OpenComplaintPayload:
        return await _run(info, OpenComplaintPayload,
                          lambda uow: intake.open_ticket(uow, _opening(input)))

    @strawberry.mutation(description="Give the ticket to an agent (work starts) or a team's "
                         "queue.")
    async def assign_complaint(self, info: Info, input: AssignComplaintInput
                               ) -> AssignComplaintPayload:
        return await _run(info, AssignComplaintPayload, lambda uow: service.assign(
            uow, *_ticket(input.id), assignee=input.assignee,
            kind=complaints.AssigneeKind(input.assignee_kind), team=input.team))

    @strawberry.mutation(description="A reply the consumer sees, or an internal note.")
    async def reply_to_complaint(self, info: Info, input: ReplyToComplaintInput
                                 ) -> ReplyToComplaintPayload:
        return await _run(info, ReplyToComplaintPayload, lambda uow: service.reply(
            uow, *_ticket(input.id), message=input.message, internal=input.internal))

    @strawberry.mutation(description="Ask the consumer for more: WAITING_CUSTOMER, the "
                         "resolution clock paused until they answer.")
    async def request_complaint_info(self, info: Info, input: RequestComplaintInfoInput
                                     ) -> RequestComplaintInfoPayload:
        return await _run(info, RequestComplaintInfoPayload, lambda uow: service.request_info(
            uow, *_ticket(input.id), message=input.message))

    @strawberry.mutation(description="Override the priority (with a reason); the deadlines "
                         "follow its SLA hours.")
    async def set_complaint_priority(self, info: Info, input: SetComplaintPriorityInput
                                     ) -> SetComplaintPriorityPayload:
        return await _run(info, SetComplaintPriorityPayload, lambda uow: service.set_priority(
            uow, *_ticket(input.id), priority=complaints.ComplaintPriority(input.priority),
            reason=input.reason))

    @strawberry.mutation(description="Resolve with a resolution code and the text the consumer "
                         "gets; optionally open a follow-up refund case.")
    async def resolve_complaint(self, info: Info, input: ResolveComplaintInput
                                ) -> ResolveComplaintPayload:
        return await _run(info, ResolveComplaintPayload, lambda uow: service.resolve(
            uow, *_ticket(input.id), resolution=complaints.ComplaintResolution(input.resolution),
            note=input.note, follow_up=_follow_up(input.follow_up_refund)))

    @strawberry.mutation(description="Close a resolved ticket.")
    async def close_complaint(self, info: Info, input: CloseComplaintInput
                              ) -> CloseComplaintPayload:
        return await _run(info, CloseComplaintPayload, lambda uow: service.close(
            uow, *_ticket(input.id), note=input.note))

    @strawberry.mutation(description="Reopen a resolved ticket within the policy's reopen "
                         "window.")
    async def reopen_complaint(self, info: Info, input: ReopenComplaintInput
                               ) -> ReopenComplaintPayload:
        return await _run(info, ReopenComplaintPayload, lambda uow: service.reopen(
            uow, *_ticket(input.id), reason=input.reason))
