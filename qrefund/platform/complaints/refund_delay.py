"""A refund late enough to escalate twice becomes a complaint, once.

When a refund case's completion deadline has breached and escalated to level 2 (the
deadline sweep's ``refund_case.deadline_breached`` / ``refund_case.escalated`` with
``deadline: completion`` and ``escalationLevel >= 2``), a job opens a
``REFUND_DELAY`` ticket about the case on the consumer's behalf: priority HIGH,
linked to the case, the consumer's contact copied from the case (so they hear of it
and of its replies), opened by :data:`OPENED_BY`.

Exactly once per case: a partial unique index on ``(tenant_id, refund_case_id)`` of
the tickets opened by :data:`OPENED_BY` (migration 0010) makes a re-run, a second
event (level 3) or two concurrent jobs find the first ticket instead of a second.
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy.exc import IntegrityError

from qrefund.platform.complaints.intake import OpenComplaint, open_ticket
from qrefund.platform.complaints.models import REFUND_DELAY_OPENER as OPENED_BY
from qrefund.platform.complaints.models import ComplaintTicket
from qrefund.platform.complaints.repository import ComplaintTicketRepository
from qrefund.platform.complaints.vocabulary import ComplaintCategory, ComplaintPriority
from qrefund.platform.crypto import key_ring
from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import DomainError, NotFound
from qrefund.platform.refunds import service as refunds
from qrefund.platform.refunds.models import (
    CONTACT_EMAIL_PURPOSE,
    CONTACT_PHONE_PURPOSE,
    RefundCase,
)
from qrefund.platform.vocabulary import RequestChannel

log = logging.getLogger(__name__)

__all__ = ["OPENED_BY", "open_for_late_refund"]


async def _existing(uow: UnitOfWork, case: RefundCase) -> ComplaintTicket | None:
    tickets = await ComplaintTicketRepository(uow).by_cases([(case.tenant_id, case.id)])
    return next((t for t in tickets.get((case.tenant_id, case.id), [])
                 if t.opened_by == OPENED_BY), None)


def _contact(case: RefundCase, value: str | None, purpose: str) -> str | None:
    if not value:
        return None
    try:
        return key_ring().decrypt(value, purpose)
    except Exception:  # a contact that does not decrypt must not stop the complaint
        log.exception("refund case %s: cannot decrypt a contact", case.id)
        return None


def _command(case: RefundCase, level: int, with_contact: bool) -> OpenComplaint:
    return OpenComplaint(
        category=ComplaintCategory.REFUND_DELAY,
        description=(f"Refund {case.case_number} is past its completion deadline "
                     f"(escalation level {level}). Opened automatically on the consumer's "
                     "behalf."),
        refund_case=(case.tenant_id, case.id),
        channel=RequestChannel(case.channel),
        priority=ComplaintPriority.HIGH,
        priority_reason="opened automatically: the refund is late",
        contact_phone=_contact(case, case.contact_phone_enc, CONTACT_PHONE_PURPOSE)
        if with_contact else None,
        contact_email=_contact(case, case.contact_email_enc, CONTACT_EMAIL_PURPOSE)
        if with_contact else None,
    )


async def open_for_late_refund(uow: UnitOfWork, tenant_id: uuid.UUID, case_id: uuid.UUID, *,
                               level: int) -> tuple[ComplaintTicket | None, bool]:
    """The case's automatic REFUND_DELAY ticket: (ticket, True) when opened now,
    (the existing one, False) when it was opened before, (None, False) when the case is
    gone. The unit's actor must be :data:`OPENED_BY` (the job's scope)."""
    if uow.scope.actor != OPENED_BY:
        raise ValueError(f"open_for_late_refund runs as {OPENED_BY!r}")
    try:
        case = await refunds.get_case(uow, tenant_id, case_id)
    except NotFound:
        return None, False
    found = await _existing(uow, case)
    if found is not None:
        return found, False
    try:
        async with uow.savepoint():
            try:
                ticket = await open_ticket(uow, _command(case, level, with_contact=True))
            except DomainError:
                # A contact the complaint rules refuse (an old format): open it without
                # one rather than not at all; staff still see the case's contact.
                log.warning("refund case %s: contact refused for the complaint", case.id)
                ticket = await open_ticket(uow, _command(case, level, with_contact=False))
            await uow.flush()
    except IntegrityError:  # a concurrent job opened it first (the unique index)
        return await _existing(uow, case), False
    return ticket, True
