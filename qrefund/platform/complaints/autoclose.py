"""Closing RESOLVED tickets nobody wrote on for the policy's auto-close days.

Resolving a ticket sets ``auto_close_at`` (resolution + ``complaint_auto_close_days``
of the stamped policy version); a consumer's message on the resolved ticket moves it
on, and a reopening or a staff close clears it. The maintenance job takes the tickets
whose time has come in batches, locks them in key order, and closes those that still
say so under the lock: RESOLVED -> CLOSED with ``complaint.closed`` (actor ``system``,
``automatic: true``). Running it twice, or twice at once, closes each ticket once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from qrefund.platform.clock import utcnow
from qrefund.platform.complaints import events, sla
from qrefund.platform.complaints.lifecycle import Action, next_status
from qrefund.platform.complaints.models import ComplaintTicket
from qrefund.platform.complaints.repository import ComplaintTicketRepository
from qrefund.platform.complaints.vocabulary import ComplaintStatus
from qrefund.platform.db import UnitOfWork
from qrefund.platform.outbox.service import release_unused_sequences, reserve_sequences
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
    it was found is left as it is.

    Written in bulk, as the deadline sweep does: the outbox numbers of the batch are
    reserved per tenant in one statement (tenants locked in id order, after the
    tickets, as a single request locks them) and the rows flushed once at the end."""
    uow.scope.require(Permission.HANDLE_COMPLAINTS)
    now = now or utcnow()
    tickets = await ComplaintTicketRepository(uow).locked(keys)
    closing = [tickets[k] for k in sorted(tickets) if _still_due(tickets[k], now)]
    await reserve_sequences(uow, "events", Counter(t.tenant_id for t in closing))
    with uow.no_autoflush():
        for ticket in closing:
            target = next_status(Action.CLOSE, ticket.state)
            ticket.status, ticket.closed_at, ticket.auto_close_at = target.value, now, None
            sla.refresh_next_due(ticket)
            await events.record(uow, ticket, type="closed", from_status=ComplaintStatus.RESOLVED,
                                to_status=target, data={"automatic": True}, actor=SYSTEM)
    await uow.flush()
    await release_unused_sequences(uow)
    return AutoCloseResult(due=len(tickets), closed=len(closing))
