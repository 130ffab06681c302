"""A merchant's complaint tickets after a FREEZE suspension: their deadlines move on.

As for refund cases (:mod:`qrefund.platform.refunds.freeze`): at reactivation each
ticket whose clocks were running (OPEN, IN_PROGRESS) gets the SLA time the freeze
lasted added, the way a pause adds it (``sla_paused_seconds``, so a later
rescheduling keeps it), and a ``complaint.deadlines_shifted`` event. A ticket
waiting for the customer is left alone: its pause already covers the span.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from qrefund.platform.complaints import events, sla
from qrefund.platform.complaints.models import ComplaintTicket
from qrefund.platform.complaints.repository import ComplaintTicketRepository
from qrefund.platform.complaints.vocabulary import ComplaintStatus
from qrefund.platform.db import UnitOfWork
from qrefund.platform.repository import Key

RUNNING = (ComplaintStatus.OPEN, ComplaintStatus.IN_PROGRESS)


async def shift_frozen_tickets(uow: UnitOfWork, tenant_id: uuid.UUID, started_at: datetime,
                               ended_at: datetime) -> list[Key]:
    """Move the running deadlines of the merchant's tickets on by the frozen span; returns
    the keys of the tickets moved."""
    tickets = await ComplaintTicketRepository(uow).of_tenant_in(tenant_id, RUNNING, lock=True)
    clocks: dict[tuple[uuid.UUID | None, uuid.UUID | None], sla.Clock] = {}
    moved: list[Key] = []
    for ticket in tickets:
        policy = (ticket.policy_tenant_id, ticket.policy_id)
        if policy not in clocks:  # one read per policy version, not per ticket
            clocks[policy] = await sla.clock_of(uow, ticket)
        await _shift(uow, ticket, clocks[policy], started_at, ended_at)
        moved.append((ticket.tenant_id, ticket.id))
    return moved


async def _shift(uow: UnitOfWork, ticket: ComplaintTicket, clock: sla.Clock,
                 started_at: datetime, ended_at: datetime) -> None:
    lost = clock.lost(started_at, ended_at)
    previous = (ticket.first_response_due_at, ticket.resolution_due_at)
    if lost > timedelta(0):
        ticket.sla_paused_seconds += int(lost.total_seconds())
        ticket.resolution_due_at = clock.extend(ticket.resolution_due_at, lost)
        if ticket.first_responded_at is None:
            ticket.first_response_due_at = clock.extend(ticket.first_response_due_at, lost)
        sla.refresh_next_due(ticket)
    await events.record(uow, ticket, type="deadlines_shifted", data={
        "frozenFrom": started_at.isoformat(), "frozenTo": ended_at.isoformat(),
        "previousFirstResponseDueAt": previous[0].isoformat(),
        "previousResolutionDueAt": previous[1].isoformat()})
