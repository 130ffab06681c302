"""A ticket's timeline entries and outbox events, written together.

Outbox payloads are snapshots of the ticket as of the event (what webhooks,
notifications and subscribers receive). They never carry an internal note: an
``internal`` entry's note stays on the staff-only timeline, and a snapshot holds
neither the description nor the consumer's contact.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from qrefund.platform.clock import utcnow
from qrefund.platform.complaints.models import ComplaintEvent, ComplaintTicket
from qrefund.platform.complaints.repository import (
    ComplaintEventRepository,
    ComplaintTicketRepository,
)
from qrefund.platform.complaints.vocabulary import ComplaintStatus
from qrefund.platform.db import UnitOfWork
from qrefund.platform.outbox.service import record_event

AGGREGATE = "complaint"
# Events whose timeline entry is staff-only (``internal``): an internal note, a priority
# override's reason. Live subscribers who may not read internal notes are not told of
# them at all (their payloads carry no note either way).
STAFF_ONLY = frozenset({f"{AGGREGATE}.note_added", f"{AGGREGATE}.priority_changed"})


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _id(value: Any) -> str | None:
    return str(value) if value else None


def snapshot(t: ComplaintTicket) -> dict[str, Any]:
    """The ticket as an event shows it: no description, contact or internal note."""
    return {
        "ticketId": str(t.id), "ticketNumber": t.ticket_number, "merchantId": str(t.tenant_id),
        "transactionId": str(t.transaction_id), "refundCaseId": _id(t.refund_case_id),
        "status": t.status, "priority": t.priority, "category": t.category,
        "channel": t.channel, "assignee": t.assignee, "team": t.team,
        "escalationLevel": t.escalation_level,
        "firstResponseDueAt": _iso(t.first_response_due_at),
        "resolutionDueAt": _iso(t.resolution_due_at),
        "firstRespondedAt": _iso(t.first_responded_at), "waitingSince": _iso(t.waiting_since),
        "nextDueAt": _iso(t.next_due_at), "repeatOfId": _id(t.repeat_of_id),
        "resolution": t.resolution, "resolutionNote": t.resolution_note,
        "followUpCaseId": _id(t.follow_up_case_id), "rating": t.rating,
        "reopenCount": t.reopen_count, "policyVersion": t.policy_version,
    }


async def record(
    uow: UnitOfWork, ticket: ComplaintTicket, *, type: str, note: str | None = None,
    internal: bool = False, from_status: ComplaintStatus | None = None,
    to_status: ComplaintStatus | None = None, data: dict[str, Any] | None = None,
    actor: str | None = None,
) -> None:
    """Append to the ticket's timeline and write the outbox event ``complaint.<type>``.

    Call it with the ticket locked: the timeline's sequence number comes from the row.
    ``internal`` keeps ``note`` off the outbox payload (staff timeline only); ``data``
    goes to both, so it must never hold an internal text.
    """
    now = utcnow()
    who = (actor or uow.scope.actor)[:80]
    ticket.event_count += 1
    ticket.updated_at = now
    ComplaintTicketRepository(uow).add(ticket)
    ComplaintEventRepository(uow).add(ComplaintEvent(
        tenant_id=ticket.tenant_id, ticket_id=ticket.id, seq=ticket.event_count, type=type,
        from_status=from_status.value if from_status else None,
        to_status=to_status.value if to_status else None, actor=who, note=note,
        internal=internal, data=data or {}, occurred_at=now,
    ))
    payload = {**snapshot(ticket), **(data or {}),
               "fromStatus": from_status.value if from_status else None,
               "toStatus": to_status.value if to_status else None,
               "note": None if internal else note, "actor": who}
    await record_event(uow, tenant_id=ticket.tenant_id, type=f"{AGGREGATE}.{type}",
                       aggregate_type=AGGREGATE, aggregate_id=ticket.id, payload=payload)
