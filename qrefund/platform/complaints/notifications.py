"""Complaint tickets as a notification provider: what a ticket's consumer is told.

The consumer hears of the steps they can act on or wait for: the ticket opened, a
public reply, a request for information, the resolution, a reopening, the closing
(by staff or by the auto-close job). One message per contact left on the ticket
(e-mail, phone: stored encrypted, decrypted here only to send), with a link to the
payment's receipt page while the receipt stands.

Internal notes never reach a message: the events of notes and priority reasons are
not among :attr:`ComplaintNotifications.kinds`, and every variable comes from the
event's payload, which never holds an internal text (see
:mod:`qrefund.platform.complaints.events`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from qrefund.platform.complaints import sla
from qrefund.platform.complaints.deadlines import SUBJECT_TYPE
from qrefund.platform.complaints.messages import TEMPLATES
from qrefund.platform.complaints.models import (
    CONTACT_EMAIL_PURPOSE,
    CONTACT_PHONE_PURPOSE,
    ComplaintTicket,
)
from qrefund.platform.complaints.service import get_ticket
from qrefund.platform.crypto import key_ring
from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import NotFound
from qrefund.platform.notifications.models import Channel
from qrefund.platform.notifications.provider import Contact, decrypt_contacts
from qrefund.platform.outbox.models import DomainEvent
from qrefund.platform.transactions import service as transactions
from qrefund.platform.transactions.receipt import make_token
from qrefund.tenants.models import Tenant


@dataclass(frozen=True)
class NotifiedTicket:
    """A ticket as its messages need it: with the reopen window of its policy version."""

    ticket: ComplaintTicket
    reopen_days: int


class ComplaintNotifications:
    type = SUBJECT_TYPE
    noun = "complaint ticket"
    kinds: Mapping[str, str] = {f"complaint.{kind}": kind for kind in TEMPLATES.kinds}
    templates = TEMPLATES

    async def load(self, uow: UnitOfWork, tenant_id: uuid.UUID, ticket_id: uuid.UUID
                   ) -> NotifiedTicket | None:
        try:
            ticket = await get_ticket(uow, tenant_id, ticket_id)
        except NotFound:
            return None
        terms = await sla.terms_of(uow, ticket)
        return NotifiedTicket(ticket, terms.complaint_reopen_window_days)

    def contacts(self, subject: NotifiedTicket) -> list[Contact]:
        ticket = subject.ticket
        return decrypt_contacts(f"complaint ticket {ticket.id}", (
            (Channel.EMAIL, ticket.contact_email_enc, CONTACT_EMAIL_PURPOSE),
            (Channel.SMS, ticket.contact_phone_enc, CONTACT_PHONE_PURPOSE),
        ))

    async def link(self, uow: UnitOfWork, subject: NotifiedTicket, base_url: str) -> str | None:
        """The consumer's receipt link; none when the payment or its receipt is gone."""
        ticket = subject.ticket
        try:
            txn = await transactions.get(uow, ticket.tenant_id, ticket.transaction_id)
        except NotFound:
            return None
        if txn.receipt_revoked_at is not None:
            return None
        token = make_token(key_ring(), txn.tenant_id, txn.id, txn.receipt_token_version)
        return f"{base_url.rstrip('/')}/r/{token}"

    def context(self, event: DomainEvent, subject: NotifiedTicket, tenant: Tenant, locale: str,
                link: str | None) -> dict[str, Any]:
        return context(event, subject, tenant, link)


def _when(raw: Any, tz: ZoneInfo) -> str:
    if not raw:
        return ""
    moment = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw))
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def context(event: DomainEvent, subject: NotifiedTicket, tenant: Tenant, link: str | None
            ) -> dict[str, Any]:
    """Template variables from the event (the ticket as it was then) and the merchant.

    ``message`` is the public message the event carries (a reply, a request for
    information); ``resolution`` the resolution note the consumer is given."""
    data, ticket = event.payload, subject.ticket
    carried = data.get("message")
    message: dict[str, Any] = carried if isinstance(carried, dict) else {}
    resolution = data.get("resolutionNote") if event.type == "complaint.resolved" else None
    return {
        "merchant": tenant.name,
        "ticket_number": str(data.get("ticketNumber") or ticket.ticket_number),
        "message": str(message.get("body") or ""),
        "resolution": str(resolution or ""),
        "resolution_due": _when(data.get("resolutionDueAt") or ticket.resolution_due_at,
                                ZoneInfo(tenant.timezone)),
        "reopen_days": subject.reopen_days,
        "link": link,
    }
