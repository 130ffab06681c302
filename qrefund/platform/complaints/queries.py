"""Reading complaint tickets: the filtered, keyset-paginated list, counts, and the batch
reads behind the per-request data loaders (one statement per batch, whatever its size).

What a reader sees is decided here, not by the API layer: internal notes (and the
staff-only timeline entries) only with ``READ_COMPLAINT_NOTES``; a consumer's
receipt scope only the tickets of its own payment.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from qrefund.platform.complaints.intake import fingerprints
from qrefund.platform.complaints.models import (
    ComplaintAttachment,
    ComplaintEvent,
    ComplaintMessage,
    ComplaintTicket,
)
from qrefund.platform.complaints.repository import (
    ComplaintAttachmentRepository,
    ComplaintEventRepository,
    ComplaintMessageRepository,
    ComplaintTicketRepository,
    TicketFilter,
    TicketOrder,
)
from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import NotFound
from qrefund.platform.json_render import Render
from qrefund.platform.pagination import (
    Page,
    PaymentsPage,
    cursor_datetime,
    encode_cursor,
    invalid_cursor,
    parse_cursor,
    rendered,
)
from qrefund.platform.roles import Permission
from qrefund.platform.scope import TenantScope

Key = tuple[uuid.UUID, uuid.UUID]
V = TypeVar("V")
__all__ = ["TicketFilter", "TicketOrder"]


def _position(order: TicketOrder, after: str | None) -> tuple[datetime | None, uuid.UUID] | None:
    if after is None:
        return None
    at, last = parse_cursor(after, lambda v: cursor_datetime(v) if v else None, uuid.UUID)
    if at is None and order != TicketOrder.DUE_ASC:
        raise invalid_cursor()
    return at, last


def _cursor(ticket: Any, order: TicketOrder) -> str:
    """The cursor of a ticket (or of a row of its sort columns) in ``order``."""
    at = ticket.next_due_at if order == TicketOrder.DUE_ASC else ticket.created_at
    return encode_cursor([at.isoformat() if at else "", ticket.id])


def _check_merchants(uow: UnitOfWork, flt: TicketFilter) -> None:
    for merchant_id in flt.merchant_ids or ():
        if not uow.scope.allows(merchant_id):
            raise NotFound("merchant not found", field=["merchantIds"])


async def list_page(uow: UnitOfWork, flt: TicketFilter, *,
                    order: TicketOrder = TicketOrder.CREATED_DESC, first: int,
                    after: str | None = None, transactions: bool = False
                    ) -> PaymentsPage[ComplaintTicket]:
    """Staff lists (READ): one statement for the page, whatever its size, with the
    tickets' payments in it when ``transactions``."""
    uow.scope.require(Permission.READ)
    _check_merchants(uow, flt)
    position = _position(order, after)
    rows = await ComplaintTicketRepository(uow).page(flt, order, position, first=first,
                                                     transactions=transactions)
    return PaymentsPage.from_joined(rows, first=first, after=after,
                                    cursor=lambda t: _cursor(t, order),
                                    payments=1 if transactions else None)


async def rendered_page(uow: UnitOfWork, flt: TicketFilter, *, order: TicketOrder,
                        first: int, after: str | None, node: Render,
                        transactions: bool) -> Page[dict[str, Any]]:
    """:func:`list_page`'s page with each ticket as the JSON object ``node`` describes,
    built by PostgreSQL (:mod:`qrefund.platform.json_render`)."""
    uow.scope.require(Permission.READ)
    _check_merchants(uow, flt)
    rows = await ComplaintTicketRepository(uow).rendered_page(
        flt, order, _position(order, after), first=first, node=node,
        transactions=transactions)
    return rendered(rows, first=first, after=after)


async def count(uow: UnitOfWork, flt: TicketFilter) -> int:
    uow.scope.require(Permission.READ)
    _check_merchants(uow, flt)
    return await ComplaintTicketRepository(uow).count_where(flt)


def _reads(uow: UnitOfWork) -> bool:
    """Staff with READ, or a consumer following its tickets."""
    return uow.scope.can(Permission.FOLLOW_COMPLAINT if uow.scope.receipt else Permission.READ)


def _visible(uow: UnitOfWork, ticket: ComplaintTicket) -> bool:
    receipt = uow.scope.receipt
    return receipt is None or uow.scope.holds_receipt_of(ticket.tenant_id, ticket.transaction_id)


def _own(uow: UnitOfWork, keys: Sequence[Key]) -> list[Key]:
    """The keys whose rows the caller may read at all (for a consumer: the merchant of its
    payment; :func:`_visible` then checks each ticket)."""
    if not _reads(uow):
        return []
    return [k for k in keys if uow.scope.allows(k[0])]


async def _readable(uow: UnitOfWork, keys: Sequence[Key]) -> list[Key]:
    """Tickets whose thread, timeline or attachments the caller may read. A consumer's
    keys are checked against its payment (one more statement, for consumers only)."""
    if uow.scope.receipt is None:
        return _own(uow, keys)
    return list(await tickets_by_id(uow, keys))


def _grouped(uow: UnitOfWork, found: Mapping[Key, list[ComplaintTicket]]
             ) -> dict[Key, list[ComplaintTicket]]:
    return {k: [t for t in tickets if _visible(uow, t)] for k, tickets in found.items()}


async def tickets_by_id(uow: UnitOfWork, keys: Sequence[Key]) -> dict[Key, ComplaintTicket]:
    rows = await ComplaintTicketRepository(uow).by_keys(_own(uow, keys))
    return {k: t for k, t in rows.items() if _visible(uow, t)}


async def tickets_by_case(uow: UnitOfWork, keys: Sequence[Key]
                          ) -> dict[Key, list[ComplaintTicket]]:
    """Tickets about each (merchant, refund case), oldest first."""
    return _grouped(uow, await ComplaintTicketRepository(uow).by_cases(_own(uow, keys)))


async def tickets_by_transaction(uow: UnitOfWork, keys: Sequence[Key]
                                 ) -> dict[Key, list[ComplaintTicket]]:
    """Tickets about each (merchant, payment), oldest first."""
    return _grouped(uow, await ComplaintTicketRepository(uow).by_transactions(_own(uow, keys)))


async def tickets_of_contact(uow: UnitOfWork, *, limit: int = 100) -> list[ComplaintTicket]:
    """The tickets opened with the contact a consumer proved (/my), newest first.

    Only a contact scope may ask, and it gets nothing but its own contact's tickets."""
    contact = uow.scope.contact
    uow.scope.require(Permission.LIST_OWN_FILINGS)
    assert contact is not None  # LIST_OWN_FILINGS is granted to contact scopes only
    phone = contact.kind == "phone"
    prints = [fingerprints(v if phone else None, None if phone else v)[0 if phone else 1]
              for v in contact.variants()]
    column = "contact_phone_fp" if phone else "contact_email_fp"
    return await ComplaintTicketRepository(uow).by_fingerprint(
        column, [p for p in prints if p], limit=limit)


def sees_notes(scope: TenantScope) -> bool:
    """Whether the caller may see internal notes and staff-only timeline entries (and a
    priority override's reason): staff with READ_COMPLAINT_NOTES, never a consumer."""
    return scope.receipt is None and scope.can(Permission.READ_COMPLAINT_NOTES)


async def messages_by_ticket(uow: UnitOfWork, keys: Sequence[Key], *, notes: bool = True
                             ) -> dict[Key, list[ComplaintMessage]]:
    """Each ticket's thread, oldest first; internal notes only for staff who may see them
    (and never with ``notes=False``: a subscription's pushed payload)."""
    return await ComplaintMessageRepository(uow).by_tickets(
        await _readable(uow, keys), include_internal=notes and sees_notes(uow.scope))


async def events_by_ticket(uow: UnitOfWork, keys: Sequence[Key], *, notes: bool = True
                           ) -> dict[Key, list[ComplaintEvent]]:
    """Each ticket's timeline in order; staff-only entries only for note readers (and
    never with ``notes=False``)."""
    return await ComplaintEventRepository(uow).by_tickets(
        await _readable(uow, keys), include_internal=notes and sees_notes(uow.scope))


async def attachments_by_ticket(uow: UnitOfWork, keys: Sequence[Key]
                                ) -> dict[Key, list[ComplaintAttachment]]:
    return await ComplaintAttachmentRepository(uow).by_tickets(await _readable(uow, keys))
