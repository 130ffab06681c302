"""A ticket's two SLA clocks: first response and resolution.

Both count from opening under the clock of the policy version stamped on the ticket
(calendar or business hours, holidays included), with the hours of the ticket's
priority. The resolution clock restarts on reopening and is paused while the ticket
waits for the customer: the SLA time lost to pauses is kept in
``sla_paused_seconds``, so every deadline can be recomputed from its start (a
priority change does exactly that). The first-response clock never pauses: asking
the customer for information is itself a response.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from qrefund.platform.complaints.models import ComplaintTicket
from qrefund.platform.complaints.vocabulary import ComplaintStatus
from qrefund.platform.db import UnitOfWork
from qrefund.platform.policies import service as policies
from qrefund.platform.policies.terms import DEFAULT_TERMS, PolicySource, PolicyTerms
from qrefund.tenants.service import get_tenant

FIRST_RESPONSE = "first_response"
RESOLUTION = "resolution"
_RUNNING = frozenset({ComplaintStatus.OPEN, ComplaintStatus.IN_PROGRESS})


@dataclass(frozen=True)
class Clock:
    """The terms a ticket is held to and where its merchant keeps time."""

    terms: PolicyTerms
    tz: str
    country: str

    def due(self, start: datetime, hours: int) -> datetime:
        return policies.due_at(self.terms, start, hours, self.tz, self.country)

    def lost(self, start: datetime, end: datetime) -> timedelta:
        return policies.sla_time_between(self.terms, start, end, self.tz, self.country)

    def extend(self, due: datetime, amount: timedelta) -> datetime:
        return policies.add_sla_time(self.terms, due, amount, self.tz, self.country)


@dataclass(frozen=True)
class RunningDeadline:
    kind: str  # FIRST_RESPONSE or RESOLUTION
    started_at: datetime
    due_at: datetime


async def terms_of(uow: UnitOfWork, ticket: ComplaintTicket) -> PolicyTerms:
    """The policy version stamped on the ticket when it was opened (defaults: version 0)."""
    if ticket.policy_id is None or ticket.policy_tenant_id is None:
        return DEFAULT_TERMS
    found = await policies.versions_by_key(
        uow, [(ticket.tenant_id, ticket.policy_tenant_id, ticket.policy_id)])
    row = found.get((ticket.policy_tenant_id, ticket.policy_id))
    if row is None:
        return DEFAULT_TERMS
    own = row.tenant_id == ticket.tenant_id
    return PolicyTerms.of(row, PolicySource.MERCHANT if own else PolicySource.AGENCY_TEMPLATE)


async def clock_of(uow: UnitOfWork, ticket: ComplaintTicket) -> Clock:
    merchant = await get_tenant(uow, ticket.tenant_id)
    return Clock(await terms_of(uow, ticket), merchant.timezone, merchant.country)


def running(ticket: ComplaintTicket) -> list[RunningDeadline]:
    """The deadlines whose clocks run now (none while waiting for the customer or once
    resolved): both until the first response, then the resolution deadline."""
    if ticket.state not in _RUNNING:
        return []
    found = []
    if ticket.first_responded_at is None:
        found.append(RunningDeadline(FIRST_RESPONSE, ticket.created_at,
                                     ticket.first_response_due_at))
    found.append(RunningDeadline(RESOLUTION, ticket.sla_started_at, ticket.resolution_due_at))
    return found


def schedule(ticket: ComplaintTicket, clock: Clock) -> None:
    """Recompute the deadlines from their starts, the priority's hours and the pauses
    (then :func:`refresh_next_due`, once the status is set).

    A first response already given keeps the deadline it had."""
    terms, priority = clock.terms, ticket.level
    if ticket.first_responded_at is None:
        ticket.first_response_due_at = clock.due(
            ticket.created_at, terms.complaint_first_response_hours.of(priority))
    due = clock.due(ticket.sla_started_at, terms.complaint_resolution_hours.of(priority))
    ticket.resolution_due_at = clock.extend(due, timedelta(seconds=ticket.sla_paused_seconds))


def refresh_next_due(ticket: ComplaintTicket) -> None:
    """The earliest running deadline, for the status the ticket has now."""
    dues = [d.due_at for d in running(ticket)]
    ticket.next_due_at = min(dues) if dues else None


def pause(ticket: ComplaintTicket, now: datetime) -> None:
    ticket.waiting_since = now


def resume(ticket: ComplaintTicket, clock: Clock, now: datetime) -> timedelta:
    """End a pause: the SLA time it cost moves the resolution deadline on. Returns it."""
    lost = clock.lost(ticket.waiting_since, now) if ticket.waiting_since else timedelta(0)
    ticket.sla_paused_seconds += int(lost.total_seconds())
    ticket.waiting_since = None
    return lost


def restart(ticket: ComplaintTicket, now: datetime) -> None:
    """A reopened ticket gets a fresh resolution clock."""
    ticket.sla_started_at = now
    ticket.sla_paused_seconds = 0
    ticket.waiting_since = None
