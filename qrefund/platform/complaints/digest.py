"""What a daily digest says about complaints: tickets nobody has answered yet.

Plain rows for :mod:`qrefund.platform.digests.sections` (no description, contact or
thread: ticket numbers, merchants, deadlines)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from qrefund.platform.complaints.models import ComplaintTicket
from qrefund.platform.complaints.repository import ComplaintTicketRepository
from qrefund.platform.complaints.vocabulary import ComplaintStatus
from qrefund.platform.db import UnitOfWork

WAITING_FOR_STAFF = (ComplaintStatus.OPEN, ComplaintStatus.IN_PROGRESS)


def _row(ticket: ComplaintTicket) -> dict[str, Any]:
    return {"ticketId": str(ticket.id), "ticketNumber": ticket.ticket_number,
            "merchantId": str(ticket.tenant_id), "priority": ticket.priority,
            "openedAt": ticket.created_at.isoformat(),
            "firstResponseDueAt": ticket.first_response_due_at.isoformat()}


async def unanswered(uow: UnitOfWork, tenant_ids: Sequence[uuid.UUID], *, limit: int
                     ) -> tuple[int, list[dict[str, Any]]]:
    """Open tickets with no staff reply yet: count and the oldest rows."""
    total, tickets = await ComplaintTicketRepository(uow).unanswered(
        tenant_ids, WAITING_FOR_STAFF, limit=limit)
    return total, [_row(t) for t in tickets]
