"""All SQL of the complaints domain: tickets, their threads, timelines and attachments.

Every statement is built by a :class:`~qrefund.platform.repository.TenantRepository`
and so carries the caller's scope.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Any

from sqlalchemy import Select, and_, or_
from sqlmodel import col

from qrefund.platform.clock import utcnow
from qrefund.platform.complaints.models import (
    ComplaintAttachment,
    ComplaintEvent,
    ComplaintMessage,
    ComplaintTicket,
)
from qrefund.platform.complaints.vocabulary import (
    ComplaintCategory,
    ComplaintPriority,
    ComplaintStatus,
)
from qrefund.platform.json_render import Cursor, Render, to_sql
from qrefund.platform.repository import Key, TenantRepository
from qrefund.platform.scope import TenantScope
from qrefund.platform.sql_parts import keyset_past
from qrefund.platform.transactions.models import Transaction, payment_of

Position = tuple[datetime | None, uuid.UUID]


class TicketOrder(StrEnum):
    CREATED_DESC = "CREATED_DESC"  # newest first (the default)
    CREATED_ASC = "CREATED_ASC"
    DUE_ASC = "DUE_ASC"  # most urgent running deadline first; paused/resolved tickets last


@dataclass(frozen=True)
class TicketFilter:
    statuses: list[ComplaintStatus] | None = None
    priorities: list[ComplaintPriority] | None = None
    categories: list[ComplaintCategory] | None = None
    assignee: str | None = None
    team: str | None = None
    overdue: bool | None = None
    merchant_ids: list[uuid.UUID] | None = None
    refund_case_id: Key | None = None
    transaction_id: Key | None = None
    repeat: bool | None = None
    ratings: list[int] | None = None


def _pair(column: Any, key: Key) -> list[Any]:
    return [col(ComplaintTicket.tenant_id) == key[0], column == key[1]]


def _conditions(scope: TenantScope, flt: TicketFilter) -> list[Any]:
    t = ComplaintTicket
    conditions: list[Any] = []
    if flt.merchant_ids is not None:
        conditions.append(col(t.tenant_id).in_([m for m in flt.merchant_ids if scope.allows(m)]))
    for column, values in ((t.status, flt.statuses), (t.priority, flt.priorities),
                           (t.category, flt.categories)):
        if values:
            conditions.append(col(column).in_([v.value for v in values]))
    if flt.assignee is not None:
        conditions.append(col(t.assignee) == flt.assignee)
    if flt.team is not None:
        conditions.append(col(t.team) == flt.team)
    due = col(t.next_due_at)
    if flt.overdue is True:
        conditions.append(due < utcnow())
    elif flt.overdue is False:
        conditions.append(or_(due.is_(None), due >= utcnow()))
    if flt.refund_case_id is not None:
        conditions += _pair(col(t.refund_case_id), flt.refund_case_id)
    if flt.transaction_id is not None:
        conditions += _pair(col(t.transaction_id), flt.transaction_id)
    if flt.repeat is not None:
        repeat = col(t.repeat_of_id)
        conditions.append(repeat.is_not(None) if flt.repeat else repeat.is_(None))
    if flt.ratings:
        conditions.append(col(t.rating).in_(flt.ratings))
    return conditions


def _seek(order: TicketOrder, position: Position | None) -> tuple[list[Any], list[Any]]:
    """The keyset conditions past ``position`` and the ORDER BY of ``order``."""
    created, due, ident = (col(ComplaintTicket.created_at), col(ComplaintTicket.next_due_at),
                           col(ComplaintTicket.id))
    if order == TicketOrder.DUE_ASC:
        ordering = [due.asc().nulls_last(), ident.asc()]
        if position is None:
            return [], ordering
        at, last = position
        if at is None:  # already among the tickets without a running deadline
            return [due.is_(None), ident > last], ordering
        return [or_(due > at, and_(due == at, ident > last), due.is_(None))], ordering
    if order == TicketOrder.CREATED_ASC:
        ordering = [created.asc(), ident.asc()]
        if position is None:
            return [], ordering
        return [keyset_past(created, ident, position, descending=False)], ordering
    ordering = [created.desc(), ident.desc()]
    if position is None:
        return [], ordering
    return [keyset_past(created, ident, position)], ordering


@cache
def _cursor(order: TicketOrder) -> Cursor:
    """A rendered page's cursor in ``order`` (queries.py's ``_cursor``, built by
    PostgreSQL); one object per order, as ``to_sql`` caches by identity."""
    at = ComplaintTicket.next_due_at if order == TicketOrder.DUE_ASC else ComplaintTicket.created_at
    return Cursor(at, ComplaintTicket.id)


class ComplaintTicketRepository(TenantRepository[ComplaintTicket]):
    model = ComplaintTicket

    async def page(self, flt: TicketFilter, order: TicketOrder, position: Position | None, *,
                   first: int, transactions: bool = False) -> list[tuple[Any, ...]]:
        """``first + 1`` tickets matching ``flt`` past ``position``, in ``order`` (keyset),
        as read-only views: one tuple per ticket, with its payment (``transactions``,
        None if absent) read in the same statement by an outer join."""
        return await self.joined_views(self._page(flt, order, position, first, transactions),
                                       [Transaction] if transactions else [])

    async def rendered_page(self, flt: TicketFilter, order: TicketOrder,
                            position: Position | None, *, first: int, node: Render,
                            transactions: bool) -> list[Any]:
        """The rows :meth:`page` reads, each as its cursor and the JSON ``node``
        describes, built by PostgreSQL."""
        stmt = self._page(flt, order, position, first, transactions)
        return await self.rendered_rows(stmt, to_sql(node), to_sql(_cursor(order)))

    def _page(self, flt: TicketFilter, order: TicketOrder, position: Position | None,
              first: int, transactions: bool) -> Select[Any]:
        seek, ordering = _seek(order, position)
        stmt = self.select(*_conditions(self.scope, flt), *seek).order_by(*ordering)
        if transactions:
            stmt = stmt.outerjoin(Transaction, payment_of(ComplaintTicket))
        return stmt.limit(first + 1)

    async def unanswered(self, tenant_ids: Sequence[uuid.UUID], statuses: Iterable[ComplaintStatus],
                         *, limit: int) -> tuple[int, list[ComplaintTicket]]:
        """Tickets of these merchants in ``statuses`` with no staff reply yet: how many,
        and the ``limit`` oldest."""
        wanted = sorted(t for t in tenant_ids if self.scope.allows(t))
        if not wanted:
            return 0, []
        where = [col(ComplaintTicket.tenant_id).in_(wanted),
                 col(ComplaintTicket.status).in_([s.value for s in statuses]),
                 col(ComplaintTicket.first_responded_at).is_(None)]
        total = int(await self.scalar(self.count(*where)))
        if not total:
            return 0, []
        stmt = self.select(*where).order_by(col(ComplaintTicket.created_at),
                                            col(ComplaintTicket.id)).limit(limit)
        return total, await self.all(stmt)

    async def of_tenant_in(self, tenant_id: uuid.UUID, statuses: Iterable[ComplaintStatus],
                           *, lock: bool) -> list[ComplaintTicket]:
        """One merchant's tickets in these statuses, by id (``lock``: row-locked)."""
        stmt = self.select(col(ComplaintTicket.tenant_id) == tenant_id,
                           col(ComplaintTicket.status).in_([s.value for s in statuses]))
        stmt = stmt.order_by(col(ComplaintTicket.id))
        if lock:
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        return await self.all(stmt)

    async def by_fingerprint(self, column: str, prints: Sequence[str], *, limit: int
                             ) -> list[ComplaintTicket]:
        """Tickets whose contact has one of these fingerprints, newest first."""
        stmt = self.select(col(getattr(ComplaintTicket, column)).in_(prints))
        stmt = stmt.order_by(col(ComplaintTicket.created_at).desc(),
                             col(ComplaintTicket.id).desc())
        return await self.all(stmt.limit(limit))

    async def locked(self, keys: Iterable[Key]) -> dict[Key, ComplaintTicket]:
        """Tickets by (merchant, id) under their row locks, loaded copies refreshed; keys
        out of scope are left out. Locks are taken in key order (no deadlock between two
        batch lockers)."""
        wanted = self.keys_in_scope(keys)
        if not wanted:
            return {}
        stmt = self.select(self.key_in(wanted)).order_by(col(ComplaintTicket.tenant_id),
                                                         col(ComplaintTicket.id))
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
        return {t.key: t for t in await self.all(stmt)}

    async def due_to_auto_close(self, now: datetime, limit: int) -> list[Key]:
        """Up to ``limit`` RESOLVED tickets whose auto-close time has come, earliest first
        (keys only: the caller locks them in key order). Reads the partial index
        ``ix_complaint_tickets_auto_close``: the cost grows with the number due, not
        with the number of tickets. On PostgreSQL a concurrent run's locked rows are
        skipped (it is closing them)."""
        due = col(ComplaintTicket.auto_close_at)
        stmt = self.select_columns(col(ComplaintTicket.tenant_id), col(ComplaintTicket.id),
                                   where=[due.is_not(None), due <= now])
        stmt = stmt.order_by(due).limit(limit)
        if not self.uow.is_sqlite:
            stmt = stmt.with_for_update(skip_locked=True)
        return [(row.tenant_id, row.id) for row in await self.rows(stmt)]

    async def count_where(self, flt: TicketFilter) -> int:
        return int(await self.scalar(self.count(*_conditions(self.scope, flt))))

    async def by_cases(self, keys: Iterable[Key]) -> dict[Key, list[ComplaintTicket]]:
        """Tickets about each (merchant, refund case), oldest first."""
        return await self._grouped_by(col(ComplaintTicket.refund_case_id), keys)

    async def by_transactions(self, keys: Iterable[Key]) -> dict[Key, list[ComplaintTicket]]:
        """Tickets about each (merchant, payment), oldest first."""
        return await self._grouped_by(col(ComplaintTicket.transaction_id), keys)

    async def _grouped_by(self, column: Any, keys: Iterable[Key]
                          ) -> dict[Key, list[ComplaintTicket]]:
        found: dict[Key, list[ComplaintTicket]] = defaultdict(list)
        wanted = self.keys_in_scope(keys)
        if wanted:
            stmt = self.select(self.key_in(wanted, col(ComplaintTicket.tenant_id), column))
            stmt = stmt.order_by(col(ComplaintTicket.created_at), col(ComplaintTicket.id))
            for ticket in await self.all(stmt):
                found[(ticket.tenant_id, getattr(ticket, column.key))].append(ticket)
        return found

    async def latest_related(self, tenant_id: uuid.UUID, transaction_id: uuid.UUID,
                             fingerprints: Sequence[str], since: datetime
                             ) -> ComplaintTicket | None:
        """The merchant's latest ticket about the same payment (any time), or from the same
        contact (a fingerprint) opened since ``since``."""
        t = ComplaintTicket
        related: list[Any] = [col(t.transaction_id) == transaction_id]
        if fingerprints:
            same_contact = or_(col(t.contact_email_fp).in_(fingerprints),
                               col(t.contact_phone_fp).in_(fingerprints))
            related.append(and_(same_contact, col(t.created_at) >= since))
        stmt = self.select(col(t.tenant_id) == tenant_id, or_(*related))
        return await self.first(stmt.order_by(col(t.created_at).desc(), col(t.id).desc()).limit(1))


class _TicketChildren(TenantRepository[Any]):
    """Rows hanging off a ticket (messages, timeline entries, attachments), per ticket."""

    order_by: str  # the column that orders a ticket's rows

    async def by_tickets(self, keys: Iterable[Key], *, include_internal: bool = True
                         ) -> dict[Key, list[Any]]:
        found: dict[Key, list[Any]] = defaultdict(list)
        wanted = self.keys_in_scope(keys)
        if wanted:
            stmt = self.select(self.key_in(wanted, self.tenant, self.model.ticket_id))
            if not include_internal:
                stmt = stmt.where(self.model.internal.is_(False))
            stmt = stmt.order_by(self.model.ticket_id, getattr(self.model, self.order_by),
                                 self.model.id)
            for row in await self.all(stmt):
                found[(row.tenant_id, row.ticket_id)].append(row)
        return found


class ComplaintMessageRepository(_TicketChildren):
    model = ComplaintMessage
    order_by = "created_at"


class ComplaintEventRepository(_TicketChildren):
    model = ComplaintEvent
    order_by = "seq"


class ComplaintAttachmentRepository(_TicketChildren):
    model = ComplaintAttachment
    order_by = "created_at"


__all__: Sequence[str] = (
    "ComplaintAttachmentRepository", "ComplaintEventRepository", "ComplaintMessageRepository",
    "ComplaintTicketRepository", "TicketFilter", "TicketOrder",
)
