"""Complaint tickets as a deadline subject: two timers at once.

``first_response`` runs from opening until the first staff reply the consumer sees;
``resolution`` from opening (or the last reopening) until the resolution. Neither
runs while the ticket waits for the customer (the pause) or once it is resolved or
closed: :func:`qrefund.platform.complaints.sla.running` says which run now, and the
timers follow it (a consumer's answer moves the resolution deadline on by the SLA
time the pause cost, which restarts that timer's warning and breach).

Escalation, as for refund cases: each deadline's breach raises ``escalationLevel`` by
one, writes ``complaint.deadline_breached`` (with the deadline's name) and reassigns
the ticket to the merchant's escalation contact (or its agency's); a breached
deadline still running a re-escalation interval later writes ``complaint.escalated``
(one more level), and from level 2 on
``complaint.agency_notified`` tells the merchant's agency (its webhook endpoints and
subscribers receive its merchants' events). None of these events carries a note:
their text is made here from the deadline, never from the thread.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm.attributes import flag_modified

from qrefund.platform.complaints import events, sla
from qrefund.platform.complaints.freeze import shift_frozen_tickets
from qrefund.platform.complaints.models import ComplaintTicket
from qrefund.platform.complaints.service import tickets_by_keys
from qrefund.platform.db import UnitOfWork
from qrefund.platform.deadlines.models import DeadlineTimer
from qrefund.platform.deadlines.subject import (
    Escalation,
    Key,
    Record,
    Running,
    record_escalation,
    record_warning,
)

SUBJECT_TYPE = "complaint_ticket"

# Every ticket of a sweep batch updates the same columns, so the ORM sends the batch's
# ticket updates as one executemany instead of one statement per change pattern.
_TICKET_COLUMNS = ("escalation_level", "assignee", "event_count", "updated_at")


class ComplaintTicketSubject:
    type = SUBJECT_TYPE
    event_family = events.AGGREGATE
    own_events = frozenset({"complaint.deadline_warning", "complaint.deadline_breached",
                            "complaint.escalated", "complaint.agency_notified"})

    async def load(self, uow: UnitOfWork, keys: Sequence[Key], *, lock: bool
                   ) -> dict[Key, Any]:
        return await tickets_by_keys(uow, keys, lock=lock)

    def running(self, ticket: ComplaintTicket) -> dict[str, Running]:
        # The timer's name is its kind: a ticket's two deadlines never swap names.
        return {d.kind: Running(kind=d.kind, started_at=d.started_at, due_at=d.due_at)
                for d in sla.running(ticket)}

    def escalation_level(self, ticket: ComplaintTicket) -> int:
        return ticket.escalation_level

    async def warn(self, uow: UnitOfWork, ticket: ComplaintTicket, timer: DeadlineTimer
                   ) -> None:
        _same_columns(ticket)
        await record_warning(timer, _recorder(uow, ticket))

    async def escalate(self, uow: UnitOfWork, ticket: ComplaintTicket, timer: DeadlineTimer,
                       escalation: Escalation) -> None:
        _same_columns(ticket)
        await record_escalation(ticket, timer, escalation, _recorder(uow, ticket))

    async def thaw(self, uow: UnitOfWork, tenant_id: uuid.UUID, frozen_from: datetime,
                   frozen_to: datetime) -> list[Key]:
        return await shift_frozen_tickets(uow, tenant_id, frozen_from, frozen_to)


def _same_columns(ticket: ComplaintTicket) -> None:
    for name in _TICKET_COLUMNS:
        flag_modified(ticket, name)


def _recorder(uow: UnitOfWork, ticket: ComplaintTicket) -> Record:
    async def record(type: str, note: str, data: dict[str, Any]) -> None:
        await events.record(uow, ticket, type=type, note=note, data=data)

    return record
