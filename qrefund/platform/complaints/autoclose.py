"""Closing RESOLVED tickets nobody wrote on for the policy's auto-close days.

Resolving a ticket sets ``auto_close_at`` (resolution + ``complaint_auto_close_days``
of the stamped policy version); a consumer's message on the resolved ticket moves it
on, and a reopening or a staff close clears it. The maintenance job takes the tickets
whose time has come in batches, locks them in key order, and closes those that still
say so under the lock: RESOLVED -> CLOSED with ``complaint.closed`` (actor ``system``,
``automatic: true``). Running it twice, or twice at once, closes each ticket once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from qrefund.platform.clock import utcnow
from qrefund.platform.complaints import events, sla
from qrefund.platform.complaints.lifecycle import Action, next_status
from qrefund.platform.complaints.models import ComplaintTicket
from qrefund.platform.complaints.repository import ComplaintTicketRepository
from qrefund.platform.complaints.vocabulary import ComplaintStatus
from qrefund.platform.db import UnitOfWork
from qrefund.platform.repository import Key
from qrefund.platform.roles import Permission

SYSTEM = "system"  # the actor of an automatic close


@dataclass
class AutoCloseResult:
    due: int = 0  # tickets the batch looked at
    closed: int = 0  # of them, closed now (the others moved on meanwhile)


async def due(uow: UnitOfWork, now: datetime, limit: int) -> list[Key]:
    """Tickets whose auto-close time has come (keys, earliest first)."""
    uow.scope.require(Permission.HANDLE_COMPLAINTS)
    return await ComplaintTicketRepository(uow).due_to_auto_close(now, limit)


def _still_due(ticket: ComplaintTicket, now: datetime) -> bool:
    return (ticket.state == ComplaintStatus.RESOLVED and ticket.auto_close_at is not None
            and ticket.auto_close_at <= now)


async def close_due(uow: UnitOfWork, keys: list[Key], *, now: datetime | None = None
                    ) -> AutoCloseResult:
    """Close the tickets of ``keys`` that are still due, under their row locks (taken in
    key order, so two runs never deadlock). A ticket answered, reopened or closed since
    it was found is left as it is."""
    uow.scope.require(Permission.HANDLE_COMPLAINTS)
    now = now or utcnow()
    tickets = await ComplaintTicketRepository(uow).locked(keys)
    result = AutoCloseResult(due=len(tickets))
    for key in sorted(tickets):
        ticket = tickets[key]
        if not _still_due(ticket, now):
            continue
        target = next_status(Action.CLOSE, ticket.state)
        ticket.status, ticket.closed_at, ticket.auto_close_at = target.value, now, None
        sla.refresh_next_due(ticket)
        await events.record(uow, ticket, type="closed", from_status=ComplaintStatus.RESOLVED,
                            to_status=target, data={"automatic": True}, actor=SYSTEM)
        result.closed += 1
    return result
