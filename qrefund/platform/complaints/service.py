"""Working a complaint ticket: assignment, the thread, waiting on the customer,
resolution (with an optional follow-up refund case), closing, reopening, rating and
priority changes. Opening lives in :mod:`intake`, reading in :mod:`queries`.

Every step locks the ticket row, moves the status through :mod:`lifecycle`'s table,
keeps the SLA clocks in step (:mod:`sla`), appends a timeline entry and writes the
outbox event ``complaint.<type>`` in the same unit of work. Lock order: the ticket,
then (a follow-up refund case) its payment, then the per-tenant counters; so the
follow-up case is opened before the ticket's own event is written.

Who may: ``HANDLE_COMPLAINTS`` (SUPPORT, ADMIN) works tickets; ``NOTE_COMPLAINTS``
(also REFUND_AGENT) adds internal notes; a consumer's receipt scope follows its own
tickets (answer, reopen, rate) and no other: another is *not found*.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from qrefund.platform import validation
from qrefund.platform.clock import utcnow
from qrefund.platform.complaints import events, sla
from qrefund.platform.complaints.errors import ComplaintError
from qrefund.platform.complaints.lifecycle import Action, next_status
from qrefund.platform.complaints.models import (
    BODY_MAX,
    NOTE_MAX,
    ComplaintMessage,
    ComplaintTicket,
)
from qrefund.platform.complaints.repository import (
    ComplaintMessageRepository,
    ComplaintTicketRepository,
)
from qrefund.platform.complaints.vocabulary import (
    REFUNDING,
    AssigneeKind,
    AuthorKind,
    ComplaintPriority,
    ComplaintResolution,
    ComplaintStatus,
)
from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import CommonError, InvalidInput, NotFound
from qrefund.platform.refunds import intake as refunds
from qrefund.platform.roles import Permission
from qrefund.platform.vocabulary import RefundMethod, RefundReason, RequestChannel

CONSUMER = "consumer"  # the author shown for the consumer's own messages
# The refund reason a follow-up case gets when none is given, by complaint category.
_FOLLOW_UP_REASON = {"WRONG_AMOUNT": RefundReason.AMOUNT_MISMATCH,
                     "QUALITY": RefundReason.QUALITY_ISSUE}


@dataclass(frozen=True)
class FollowUpRefund:
    """A refund case to open on the ticket's payment as part of its resolution."""

    amount: Decimal
    reason: RefundReason | None = None
    method: RefundMethod | None = None


# -- reading one ticket --------------------------------------------------------------------


def follows(uow: UnitOfWork, ticket: ComplaintTicket) -> bool:
    """Whether the caller is the consumer of this ticket (their receipt's payment)."""
    scope = uow.scope
    return (scope.receipt is not None and scope.can(Permission.FOLLOW_COMPLAINT)
            and scope.holds_receipt_of(ticket.tenant_id, ticket.transaction_id))


async def get_ticket(uow: UnitOfWork, tenant_id: uuid.UUID, ticket_id: uuid.UUID, *,
                     lock: bool = False) -> ComplaintTicket:
    """One ticket in scope; another tenant's (or, for a consumer, another payment's)
    ticket is NOT_FOUND. ``lock`` takes the row lock and refreshes a loaded copy."""
    ticket = await ComplaintTicketRepository(uow).require(tenant_id, ticket_id, lock=lock,
                                                          what="complaint ticket")
    if uow.scope.receipt is not None and not follows(uow, ticket):
        raise NotFound("complaint ticket not found", field=["id"])
    return ticket


async def tickets_by_keys(uow: UnitOfWork, keys: Sequence[tuple[uuid.UUID, uuid.UUID]], *,
                         lock: bool = False) -> dict[tuple[uuid.UUID, uuid.UUID], ComplaintTicket]:
    """Tickets by (merchant, id) for jobs (the deadline sweep, auto-close): those out of
    scope left out; ``lock`` takes their row locks and refreshes copies in the unit."""
    repo = ComplaintTicketRepository(uow)
    return await (repo.locked(keys) if lock else repo.by_keys(keys))


async def read_ticket(uow: UnitOfWork, tenant_id: uuid.UUID, ticket_id: uuid.UUID
                      ) -> ComplaintTicket:
    """A ticket for a reader: staff with READ, or the consumer it belongs to."""
    uow.scope.require(Permission.FOLLOW_COMPLAINT if uow.scope.receipt else Permission.READ)
    return await get_ticket(uow, tenant_id, ticket_id)


# -- shared steps ------------------------------------------------------------------------------


async def _move(uow: UnitOfWork, ticket: ComplaintTicket, action: Action, *, type: str,
                note: str | None = None, internal: bool = False,
                data: dict[str, Any] | None = None) -> ComplaintTicket:
    """Apply ``action`` (locked ticket, fields already changed) and record it."""
    source = ticket.state
    target = next_status(action, source)
    ticket.status = target.value
    sla.refresh_next_due(ticket)
    moved = target != source
    await events.record(uow, ticket, type=type, note=note, internal=internal, data=data,
                        from_status=source if moved else None, to_status=target if moved else None)
    return ticket


def _write(uow: UnitOfWork, ticket: ComplaintTicket, body: str, *, internal: bool = False,
           author_kind: AuthorKind = AuthorKind.STAFF) -> ComplaintMessage:
    author = CONSUMER if author_kind == AuthorKind.CONSUMER else uow.scope.actor[:80]
    message = ComplaintMessage(tenant_id=ticket.tenant_id, ticket_id=ticket.id, body=body,
                               internal=internal, author=author, author_kind=author_kind.value,
                               created_at=utcnow())
    ComplaintMessageRepository(uow).add(message)
    return message


def _public(message: ComplaintMessage) -> dict[str, Any]:
    """A message as an event may carry it: never called for an internal note."""
    assert not message.internal
    return {"message": {"id": str(message.id), "body": message.body,
                        "authorKind": message.author_kind,
                        "createdAt": message.created_at.isoformat()}}


def _responded(ticket: ComplaintTicket) -> dict[str, Any]:
    """Stamp the first response (a staff message the consumer sees)."""
    if ticket.first_responded_at is not None:
        return {}
    ticket.first_responded_at = utcnow()
    return {"firstResponse": True}


def _text(value: str | None, name: str, max_len: int = NOTE_MAX) -> str:
    return validation.required_text(value, name, max_len=max_len)


# -- staff steps -------------------------------------------------------------------------------


async def assign(uow: UnitOfWork, tenant_id: uuid.UUID, ticket_id: uuid.UUID, *, assignee: str,
                 kind: AssigneeKind = AssigneeKind.AGENT, team: str | None = None
                 ) -> ComplaintTicket:
    """To a named agent (work starts; ``team`` optionally names the agent's team) or to a
    team's queue (``kind=TEAM``: the ticket waits there for an agent)."""
    uow.scope.require(Permission.HANDLE_COMPLAINTS)
    name = _text(assignee, "assignee", 80)
    team = validation.text(team, "team", max_len=80, required=False)
    ticket = await get_ticket(uow, tenant_id, ticket_id, lock=True)
    previous = {"previousAssignee": ticket.assignee, "previousTeam": ticket.team}
    if kind == AssigneeKind.TEAM:
        action, ticket.team, ticket.assignee = Action.ASSIGN_TEAM, name, None
    else:
        action, ticket.assignee = Action.ASSIGN_AGENT, name
        ticket.team = team if team is not None else ticket.team
    next_status(action, ticket.state)
    return await _move(uow, ticket, action, type="assigned", data={
        "assignee": ticket.assignee, "team": ticket.team, "assigneeKind": kind.value, **previous})


async def reply(uow: UnitOfWork, tenant_id: uuid.UUID, ticket_id: uuid.UUID, *, message: str,
                internal: bool = False) -> ComplaintTicket:
    """A reply the consumer sees (the first one is the first response), or an internal
    note that only staff views show."""
    uow.scope.require(Permission.NOTE_COMPLAINTS if internal else Permission.HANDLE_COMPLAINTS)
    body = _text(message, "message", BODY_MAX)
    ticket = await get_ticket(uow, tenant_id, ticket_id, lock=True)
    action = Action.NOTE if internal else Action.REPLY
    next_status(action, ticket.state)
    written = _write(uow, ticket, body, internal=internal)
    if internal:
        return await _move(uow, ticket, action, type="note_added", internal=True,
                           data={"messageId": str(written.id)})
    return await _move(uow, ticket, action, type="replied",
                       data={**_responded(ticket), **_public(written)})


async def request_info(uow: UnitOfWork, tenant_id: uuid.UUID, ticket_id: uuid.UUID, *,
                       message: str) -> ComplaintTicket:
    """Ask the consumer for more (a reply they see): WAITING_CUSTOMER, the resolution
    clock paused until they answer."""
    uow.scope.require(Permission.HANDLE_COMPLAINTS)
    body = _text(message, "message", BODY_MAX)
    ticket = await get_ticket(uow, tenant_id, ticket_id, lock=True)
    next_status(Action.REQUEST_INFO, ticket.state)
    written = _write(uow, ticket, body)
    responded = _responded(ticket)
    sla.pause(ticket, utcnow())
    return await _move(uow, ticket, Action.REQUEST_INFO, type="info_requested",
                       data={**responded, **_public(written)})


async def set_priority(uow: UnitOfWork, tenant_id: uuid.UUID, ticket_id: uuid.UUID, *,
                       priority: ComplaintPriority, reason: str) -> ComplaintTicket:
    """Override the derived priority; the deadlines are recomputed with its hours. The
    reason stays on the staff timeline."""
    uow.scope.require(Permission.HANDLE_COMPLAINTS)
    why = _text(reason, "reason", 500)
    ticket = await get_ticket(uow, tenant_id, ticket_id, lock=True)
    next_status(Action.SET_PRIORITY, ticket.state)
    previous = ticket.priority
    ticket.priority, ticket.priority_reason = ComplaintPriority(priority).value, why
    sla.schedule(ticket, await sla.clock_of(uow, ticket))
    return await _move(uow, ticket, Action.SET_PRIORITY, type="priority_changed", note=why,
                       internal=True, data={"previousPriority": previous})


async def resolve(uow: UnitOfWork, tenant_id: uuid.UUID, ticket_id: uuid.UUID, *,
                  resolution: ComplaintResolution | None, note: str,
                  follow_up: FollowUpRefund | None = None) -> ComplaintTicket:
    """RESOLVED with a resolution code and the text the consumer gets. ``follow_up``
    opens a refund case on the same payment through refunds intake (its rules and
    roles: the caller must also be allowed to submit refund requests)."""
    uow.scope.require(Permission.HANDLE_COMPLAINTS)
    if resolution is None:
        raise InvalidInput("resolution is required", field=["resolution"],
                           code=CommonError.REQUIRED)
    resolution = ComplaintResolution(resolution)
    text = _text(note, "note")
    if follow_up is not None and resolution not in REFUNDING:
        raise InvalidInput(f"{resolution.value} opens no refund case", field=["followUpRefund"],
                           code=ComplaintError.FOLLOW_UP_NOT_ALLOWED)
    ticket = await get_ticket(uow, tenant_id, ticket_id, lock=True)
    next_status(Action.RESOLVE, ticket.state)
    data: dict[str, Any] = {"resolution": resolution.value, **_responded(ticket)}
    if follow_up is not None:
        data["followUpCaseId"] = str(await _follow_up(uow, ticket, follow_up))
    clock = await sla.clock_of(uow, ticket)
    now = utcnow()
    ticket.resolution, ticket.resolution_note, ticket.resolved_at = resolution.value, text, now
    ticket.waiting_since = None
    ticket.auto_close_at = now + timedelta(days=clock.terms.complaint_auto_close_days)
    return await _move(uow, ticket, Action.RESOLVE, type="resolved", note=text, data=data)


async def _follow_up(uow: UnitOfWork, ticket: ComplaintTicket, cmd: FollowUpRefund) -> uuid.UUID:
    if ticket.follow_up_case_id is not None:
        raise InvalidInput("this ticket already has a follow-up refund case",
                           field=["followUpRefund"], code=ComplaintError.FOLLOW_UP_NOT_ALLOWED)
    case = await refunds.submit(uow, refunds.SubmitRefund(
        tenant_id=ticket.tenant_id, transaction_id=ticket.transaction_id, amount=cmd.amount,
        reason=cmd.reason or _FOLLOW_UP_REASON.get(ticket.category, RefundReason.OTHER),
        channel=RequestChannel(ticket.channel), method=cmd.method,
        description=f"Follow-up of complaint {ticket.ticket_number}"))
    ticket.follow_up_case_id = case.id
    return case.id


async def close(uow: UnitOfWork, tenant_id: uuid.UUID, ticket_id: uuid.UUID, *,
                note: str | None = None, automatic: bool = False) -> ComplaintTicket:
    """RESOLVED -> CLOSED (by staff, or by the auto-close job with ``automatic``)."""
    uow.scope.require(Permission.HANDLE_COMPLAINTS)
    text = validation.text(note, "note", max_len=NOTE_MAX, required=False)
    ticket = await get_ticket(uow, tenant_id, ticket_id, lock=True)
    next_status(Action.CLOSE, ticket.state)
    ticket.closed_at, ticket.auto_close_at = utcnow(), None
    return await _move(uow, ticket, Action.CLOSE, type="closed", note=text,
                       data={"automatic": automatic})


# -- staff or the consumer -----------------------------------------------------------------------


def _staff_or_consumer(uow: UnitOfWork) -> None:
    if uow.scope.receipt is not None:
        uow.scope.require(Permission.FOLLOW_COMPLAINT)
    else:
        uow.scope.require(Permission.HANDLE_COMPLAINTS)


async def consumer_reply(uow: UnitOfWork, tenant_id: uuid.UUID, ticket_id: uuid.UUID, *,
                         message: str) -> ComplaintTicket:
    """The consumer's answer (from their receipt page, or recorded by support from a call):
    WAITING_CUSTOMER -> IN_PROGRESS, the paused time added to the resolution deadline. On
    a RESOLVED ticket it postpones the auto-close."""
    _staff_or_consumer(uow)
    body = _text(message, "message", BODY_MAX)
    ticket = await get_ticket(uow, tenant_id, ticket_id, lock=True)
    next_status(Action.CONSUMER_REPLY, ticket.state)
    written = _write(uow, ticket, body, author_kind=AuthorKind.CONSUMER)
    clock = await sla.clock_of(uow, ticket)
    now, data = utcnow(), _public(written)
    if ticket.state == ComplaintStatus.WAITING_CUSTOMER:
        data["pausedSeconds"] = int(sla.resume(ticket, clock, now).total_seconds())
        sla.schedule(ticket, clock)
    elif ticket.state == ComplaintStatus.RESOLVED:
        ticket.auto_close_at = now + timedelta(days=clock.terms.complaint_auto_close_days)
    return await _move(uow, ticket, Action.CONSUMER_REPLY, type="customer_replied", data=data)


async def reopen(uow: UnitOfWork, tenant_id: uuid.UUID, ticket_id: uuid.UUID, *,
                 reason: str) -> ComplaintTicket:
    """RESOLVED -> IN_PROGRESS within the policy's reopen window after the resolution; the
    resolution clock starts again."""
    _staff_or_consumer(uow)
    why = _text(reason, "reason")
    ticket = await get_ticket(uow, tenant_id, ticket_id, lock=True)
    next_status(Action.REOPEN, ticket.state)
    clock = await sla.clock_of(uow, ticket)
    now = utcnow()
    window = timedelta(days=clock.terms.complaint_reopen_window_days)
    if ticket.resolved_at is None or now > ticket.resolved_at + window:
        raise InvalidInput(
            f"the {clock.terms.complaint_reopen_window_days}-day reopen window has passed",
            field=["id"], code=ComplaintError.REOPEN_WINDOW_CLOSED)
    previous = ticket.resolution
    ticket.resolution = ticket.resolution_note = None
    ticket.resolved_at = ticket.auto_close_at = None
    ticket.reopen_count += 1
    ticket.reopened_at = now
    sla.restart(ticket, now)
    sla.schedule(ticket, clock)
    return await _move(uow, ticket, Action.REOPEN, type="reopened", note=why,
                       data={"previousResolution": previous})


async def rate(uow: UnitOfWork, tenant_id: uuid.UUID, ticket_id: uuid.UUID, *, rating: int,
               comment: str | None = None) -> ComplaintTicket:
    """The consumer's satisfaction, 1-5, once, after the resolution."""
    uow.scope.require(Permission.FOLLOW_COMPLAINT)
    if not 1 <= rating <= 5:
        raise InvalidInput("rating must be between 1 and 5", field=["rating"],
                           code=CommonError.OUT_OF_RANGE)
    text = validation.text(comment, "comment", max_len=1000, required=False)
    ticket = await get_ticket(uow, tenant_id, ticket_id, lock=True)
    next_status(Action.RATE, ticket.state)
    if ticket.rating is not None:
        raise InvalidInput("this ticket has already been rated", field=["rating"],
                           code=ComplaintError.ALREADY_RATED)
    ticket.rating, ticket.rating_comment, ticket.rated_at = rating, text, utcnow()
    return await _move(uow, ticket, Action.RATE, type="rated", note=text,
                       data={"rating": rating})
