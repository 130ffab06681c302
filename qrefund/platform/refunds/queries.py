"""Reading refund cases: the filtered, keyset-paginated list and the batch reads
behind the per-request data loaders (one statement per batch, whatever its size)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from qrefund.platform.crypto import key_ring
from qrefund.platform.db import UnitOfWork
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
from qrefund.platform.refunds.models import (
    EMAIL_FINGERPRINT_PURPOSE,
    PHONE_FINGERPRINT_PURPOSE,
    RefundCase,
    RefundCaseEvent,
    RefundEvidence,
)
from qrefund.platform.refunds.repository import (
    CaseFilter,
    CaseOrder,
    RefundCaseEventRepository,
    RefundCaseRepository,
    RefundEvidenceRepository,
)
from qrefund.platform.roles import Permission
from qrefund.platform.transactions import service as transactions
from qrefund.platform.transactions.models import Transaction

Key = tuple[uuid.UUID, uuid.UUID]
__all__ = ["CaseFilter", "CaseOrder"]


def _parse_cursor(after: str) -> tuple[datetime | None, uuid.UUID]:
    at, last = parse_cursor(after, lambda v: cursor_datetime(v) if v else None, uuid.UUID)
    return at, last


def _position(order: CaseOrder, after: str | None) -> tuple[datetime | None, uuid.UUID] | None:
    """Where the page starts: the sort key of the last row the client saw."""
    position = _parse_cursor(after) if after else None
    if position is not None and position[0] is None and order != CaseOrder.DUE_ASC:
        raise invalid_cursor()
    return position


def _cursor(case: Any, order: CaseOrder) -> str:
    """The cursor of a case (or of a row of its sort columns) in ``order``."""
    at = case.next_due_at if order == CaseOrder.DUE_ASC else case.created_at
    return encode_cursor([at.isoformat() if at else "", case.id])


@dataclass
class CasePage(PaymentsPage[RefundCase]):
    """A page of cases and, when asked for, their payments and latest timeline entries
    (by (merchant, case id))."""

    last_events: dict[Key, RefundCaseEvent] = field(default_factory=dict)


async def list_page(uow: UnitOfWork, flt: CaseFilter, *, order: CaseOrder = CaseOrder.CREATED_DESC,
                    first: int, after: str | None = None, transactions: bool = False,
                    last_events: bool = False) -> CasePage:
    """One statement for the page, whatever its size, with its cases' payments
    (``transactions``) and latest timeline entries (``last_events``) in it."""
    uow.scope.require(Permission.READ)
    position = _position(order, after)
    rows = await RefundCaseRepository(uow).page(flt, order, position, first=first,
                                                transactions=transactions,
                                                last_events=last_events)
    page = CasePage.from_joined(rows, first=first, after=after,
                                cursor=lambda c: _cursor(c, order),
                                payments=1 if transactions else None)
    if last_events:  # the last view of each row
        page.last_events = {(row[0].tenant_id, row[0].id): row[-1] for row in rows[:first]
                            if row[-1] is not None}
    return page


async def rendered_page(uow: UnitOfWork, flt: CaseFilter, *, order: CaseOrder, first: int,
                        after: str | None, node: Render, transactions: bool,
                        last_events: bool) -> Page[dict[str, Any]]:
    """:func:`list_page`'s page with each case as the JSON object ``node`` describes,
    built by PostgreSQL in the same statement (:mod:`qrefund.platform.json_render`)."""
    uow.scope.require(Permission.READ)
    rows = await RefundCaseRepository(uow).rendered_page(
        flt, order, _position(order, after), first=first, node=node,
        transactions=transactions, last_events=last_events)
    return rendered(rows, first=first, after=after)


async def count(uow: UnitOfWork, flt: CaseFilter) -> int:
    uow.scope.require(Permission.READ)
    return await RefundCaseRepository(uow).count_where(flt)


async def cases_of_contact(uow: UnitOfWork, *, limit: int = 100) -> list[RefundCase]:
    """The cases filed with the contact a consumer proved (/my), newest first.

    Only a contact scope may ask, and it gets nothing but its own contact's cases."""
    contact = uow.scope.contact
    uow.scope.require(Permission.LIST_OWN_FILINGS)
    assert contact is not None  # LIST_OWN_FILINGS is granted to contact scopes only
    phone = contact.kind == "phone"
    purpose = PHONE_FINGERPRINT_PURPOSE if phone else EMAIL_FINGERPRINT_PURPOSE
    column = "contact_phone_fp" if phone else "contact_email_fp"
    prints = [key_ring().blind_index(v, purpose) for v in contact.variants()]
    return await RefundCaseRepository(uow).by_fingerprint(column, prints, limit=limit)


async def cases_by_id(uow: UnitOfWork, keys: Sequence[Key]) -> dict[Key, RefundCase]:
    """Cases by (merchant, id), as read-only views (for the request's loaders)."""
    return await RefundCaseRepository(uow).by_keys(keys, views=True)


async def cases_with_payments(uow: UnitOfWork, keys: Sequence[Key]
                              ) -> dict[Key, tuple[RefundCase, Transaction | None]]:
    """Cases by (merchant, id) with their payments, in one statement (read-only views)."""
    return await RefundCaseRepository(uow).with_payments(keys)


async def rendered_case(uow: UnitOfWork, key: Key, node: Render) -> dict[str, Any] | None:
    """The case :func:`cases_with_payments` reads for ``key``, as the JSON object ``node``
    describes, built by PostgreSQL (:mod:`qrefund.platform.json_render`)."""
    return await RefundCaseRepository(uow).rendered_node(key, node)


async def cases_by_transaction(uow: UnitOfWork, keys: Sequence[Key]) -> dict[Key, list[RefundCase]]:
    """Cases of each (merchant, transaction), oldest first."""
    return await RefundCaseRepository(uow).by_transactions(keys)


async def events_by_case(uow: UnitOfWork, keys: Sequence[Key]) -> dict[Key, list[RefundCaseEvent]]:
    """Each case's timeline in order."""
    return await RefundCaseEventRepository(uow).by_cases(keys)


async def last_event_by_case(uow: UnitOfWork, keys: Sequence[Key]) -> dict[Key, RefundCaseEvent]:
    """Each case's latest timeline entry."""
    return await RefundCaseEventRepository(uow).last_by_cases(keys)


async def evidence_by_case(uow: UnitOfWork, keys: Sequence[Key]) -> dict[Key, list[RefundEvidence]]:
    return await RefundEvidenceRepository(uow).by_cases(keys)


async def transactions_by_key(uow: UnitOfWork, keys: Sequence[Key]) -> dict[Key, Transaction]:
    """The payments cases refer to, by (merchant, transaction id), as read-only views."""
    return await transactions.by_keys(uow, keys, views=True)
