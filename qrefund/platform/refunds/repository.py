"""All SQL of the refunds domain: cases, their timelines and evidence, idempotency keys.

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

from sqlalchemy import Select, String, and_, bindparam, cast, func, or_
from sqlmodel import col

from qrefund.platform.clock import utcnow
from qrefund.platform.json_render import Cursor, Render, to_sql, to_sql_text
from qrefund.platform.outbox.models import IdempotencyRecord, TenantSequence
from qrefund.platform.refunds.models import RefundCase, RefundCaseEvent, RefundEvidence
from qrefund.platform.repository import Key, TenantRepository
from qrefund.platform.scope import TenantScope
from qrefund.platform.sql_parts import keyset_past
from qrefund.platform.transactions.models import Transaction, payment_of
from qrefund.platform.vocabulary import RefundCaseStatus, RefundReason, RequestChannel


class CaseOrder(StrEnum):
    CREATED_DESC = "CREATED_DESC"  # newest first (the default)
    CREATED_ASC = "CREATED_ASC"
    DUE_ASC = "DUE_ASC"  # most urgent running deadline first; paused/closed cases last


@dataclass(frozen=True)
class CaseFilter:
    statuses: list[RefundCaseStatus] | None = None
    merchant_ids: list[uuid.UUID] | None = None
    reasons: list[RefundReason] | None = None
    channels: list[RequestChannel] | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    overdue: bool | None = None
    due_before: datetime | None = None
    escalation_level: int | None = None
    min_escalation_level: int | None = None
    assignee: str | None = None
    transaction_id: Key | None = None


def _conditions(scope: TenantScope, flt: CaseFilter) -> list[Any]:
    conditions: list[Any] = []
    if flt.merchant_ids is not None:
        allowed = [m for m in flt.merchant_ids if scope.allows(m)]
        conditions.append(col(RefundCase.tenant_id).in_(allowed))
    if flt.statuses:
        conditions.append(col(RefundCase.status).in_([s.value for s in flt.statuses]))
    if flt.reasons:
        conditions.append(col(RefundCase.reason).in_([r.value for r in flt.reasons]))
    if flt.channels:
        conditions.append(col(RefundCase.channel).in_([c.value for c in flt.channels]))
    if flt.created_from:
        conditions.append(col(RefundCase.created_at) >= flt.created_from)
    if flt.created_to:
        conditions.append(col(RefundCase.created_at) < flt.created_to)
    due = col(RefundCase.next_due_at)
    if flt.overdue is True:
        conditions.append(due < utcnow())
    elif flt.overdue is False:
        conditions.append(or_(due.is_(None), due >= utcnow()))
    if flt.due_before:
        conditions.append(due < flt.due_before)
    if flt.escalation_level is not None:
        conditions.append(col(RefundCase.escalation_level) == flt.escalation_level)
    if flt.min_escalation_level is not None:
        conditions.append(col(RefundCase.escalation_level) >= flt.min_escalation_level)
    if flt.assignee:
        conditions.append(col(RefundCase.assignee) == flt.assignee)
    if flt.transaction_id is not None:
        conditions.append(col(RefundCase.tenant_id) == flt.transaction_id[0])
        conditions.append(col(RefundCase.transaction_id) == flt.transaction_id[1])
    return conditions


def _seek(order: CaseOrder, position: tuple[datetime | None, uuid.UUID] | None
          ) -> tuple[list[Any], list[Any]]:
    """The keyset conditions past ``position`` and the ORDER BY of ``order``."""
    created, due = col(RefundCase.created_at), col(RefundCase.next_due_at)
    ident = col(RefundCase.id)
    if order == CaseOrder.DUE_ASC:
        return seek_due(position), [due.asc().nulls_last(), ident.asc()]
    ascending = order == CaseOrder.CREATED_ASC
    seek = seek_created(position, ascending=ascending)  # type: ignore[arg-type]
    if ascending:
        return seek, [created.asc(), ident.asc()]
    return seek, [created.desc(), ident.desc()]


def _last_event_of_case() -> Any:
    """The join of a case to its latest timeline entry: the one whose seq is its count."""
    return and_(col(RefundCase.tenant_id) == col(RefundCaseEvent.tenant_id),
                col(RefundCase.id) == col(RefundCaseEvent.case_id),
                col(RefundCase.event_count) == col(RefundCaseEvent.seq))


@cache
def _cursor(order: CaseOrder) -> Cursor:
    """A rendered page's cursor in ``order`` (queries.py's ``_cursor``, built by
    PostgreSQL); one object per order, as ``to_sql`` caches by identity."""
    at = RefundCase.next_due_at if order == CaseOrder.DUE_ASC else RefundCase.created_at
    return Cursor(at, RefundCase.id)


def _case_number(value: Any) -> Any:
    """``<prefix><n>``, ``n`` zero-padded to six digits at least (``f"{n:06d}"``)."""
    digits = cast(value, String)
    return bindparam("number_prefix", type_=String()).concat(
        func.lpad(digits, func.greatest(6, func.length(digits)), "0"))


class RefundCaseRepository(TenantRepository[RefundCase]):
    model = RefundCase

    def numbers_on_insert(self) -> bool:
        """Can :meth:`insert_numbered` write a case here (PostgreSQL, no savepoint open:
        inside one a new row goes the ORM's way, see ``insert_kept``)?"""
        return not self.uow.is_sqlite and not self.uow._in_savepoint()

    async def insert_numbered(self, case: RefundCase, prefix: str, counter: str) -> None:
        """Write the new ``case`` at once and keep it, as ``insert_kept`` does, its
        ``case_number`` being ``prefix`` and the next value of its merchant's
        ``counter``, drawn by the INSERT itself (``insert_with_counter``: no round trip
        of its own, the counter's lock taken as the row is written)."""
        counters: Any = TenantSequence.__table__  # type: ignore[attr-defined]
        case.case_number = await self.insert_with_counter(
            self.row_values(case), "case_number", counters, counter, _case_number,
            number_prefix=prefix)
        self._hold_as_loaded(case)

    async def by_transactions(self, keys: Iterable[Key]) -> dict[Key, list[RefundCase]]:
        """Cases of each (merchant, transaction), oldest first."""
        found: dict[Key, list[RefundCase]] = defaultdict(list)
        wanted = self.keys_in_scope(keys)
        if wanted:
            stmt = self.select(self.key_in(wanted, col(RefundCase.tenant_id),
                                           col(RefundCase.transaction_id)))
            for case in await self.all(stmt.order_by(col(RefundCase.created_at),
                                                      col(RefundCase.id))):
                found[(case.tenant_id, case.transaction_id)].append(case)
        return found

    async def page(self, flt: CaseFilter, order: CaseOrder,
                   position: tuple[datetime | None, uuid.UUID] | None, *, first: int,
                   transactions: bool = False, last_events: bool = False
                   ) -> list[tuple[Any, ...]]:
        """``first + 1`` cases matching ``flt`` past ``position``, in ``order`` (keyset),
        as read-only views (a page is read, never changed): one tuple per case, the case
        first, then its payment (``transactions``) and its latest timeline entry
        (``last_events``), each read in the same statement by an outer join: the rows
        ``transactions.by_keys`` and :meth:`RefundCaseEventRepository.last_by_cases`
        would read."""
        stmt = self._page(flt, order, position, first, transactions, last_events)
        joined = [m for m, wanted in ((Transaction, transactions),
                                      (RefundCaseEvent, last_events)) if wanted]
        return await self.joined_views(stmt, joined)

    async def rendered_page(self, flt: CaseFilter, order: CaseOrder,
                            position: tuple[datetime | None, uuid.UUID] | None, *, first: int,
                            node: Render, transactions: bool, last_events: bool
                            ) -> list[Any]:
        """The rows :meth:`page` reads, each as its sort key (``created_at``,
        ``next_due_at``, ``id``) and ``node``: the JSON PostgreSQL builds of the case
        and of what it names from the joined payment and latest entry
        (:mod:`qrefund.platform.json_render`)."""
        stmt = self._page(flt, order, position, first, transactions, last_events)
        return await self.rendered_rows(stmt, to_sql(node), to_sql(_cursor(order)))

    def _page(self, flt: CaseFilter, order: CaseOrder,
              position: tuple[datetime | None, uuid.UUID] | None, first: int,
              transactions: bool, last_events: bool) -> Select[Any]:
        seek, ordering = _seek(order, position)
        stmt = self.select(*_conditions(self.scope, flt), *seek).order_by(*ordering)
        if transactions:
            stmt = stmt.outerjoin(Transaction, payment_of(RefundCase))
        if last_events:
            stmt = stmt.outerjoin(RefundCaseEvent, _last_event_of_case())
        return stmt.limit(first + 1)

    async def with_payments(self, keys: Iterable[Key]) -> dict[Key, tuple[Any, ...]]:
        """Cases by (merchant, id), each with its payment (None if absent), read together
        in one statement as read-only views; keys outside the scope are left out."""
        wanted = self.keys_in_scope(keys)
        if not wanted:
            return {}
        stmt = self.select(self.key_in(wanted)).outerjoin(Transaction, payment_of(RefundCase))
        rows = await self.joined_views(stmt, [Transaction])
        return {(case.tenant_id, case.id): (case, txn) for case, txn in rows}

    async def rendered_node(self, key: Key, node: Render) -> dict[str, Any] | None:
        """A case by (merchant, id) as the JSON ``node`` describes, read with its payment
        and latest entry joined (what the recipes may name); None when absent or out of
        scope."""
        return await self.rendered_by_key(
            key, to_sql_text(node), "payment+last-event",
            lambda stmt: stmt.outerjoin(Transaction, payment_of(RefundCase))
                             .outerjoin(RefundCaseEvent, _last_event_of_case()))

    async def count_where(self, flt: CaseFilter) -> int:
        return int(await self.scalar(self.count(*_conditions(self.scope, flt))))

    async def due_within(self, tenant_ids: Sequence[uuid.UUID], start: datetime, end: datetime,
                         *, limit: int) -> tuple[int, list[RefundCase]]:
        """Cases of these merchants whose running deadline falls in [start, end): how many,
        and the first ``limit`` by due time (the ``(tenant_id, next_due_at)`` index)."""
        wanted = sorted(t for t in tenant_ids if self.scope.allows(t))
        if not wanted:
            return 0, []
        due = col(RefundCase.next_due_at)
        where = [col(RefundCase.tenant_id).in_(wanted), due >= start, due < end]
        total = int(await self.scalar(self.count(*where)))
        if not total:
            return 0, []
        stmt = self.select(*where).order_by(due, col(RefundCase.id)).limit(limit)
        return total, await self.all(stmt)

    async def of_tenant_in(self, tenant_id: uuid.UUID, statuses: Iterable[RefundCaseStatus],
                           *, lock: bool) -> list[RefundCase]:
        """One merchant's cases in these statuses, by id (``lock``: row-locked)."""
        stmt = self.select(col(RefundCase.tenant_id) == tenant_id,
                           col(RefundCase.status).in_([s.value for s in statuses]))
        stmt = stmt.order_by(col(RefundCase.id))
        if lock:
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        return await self.all(stmt)

    async def by_fingerprint(self, column: str, prints: Sequence[str], *, limit: int
                             ) -> list[RefundCase]:
        """Cases whose contact has one of these fingerprints, newest first."""
        stmt = self.select(col(getattr(RefundCase, column)).in_(prints))
        stmt = stmt.order_by(col(RefundCase.created_at).desc(), col(RefundCase.id).desc())
        return await self.all(stmt.limit(limit))


class _CaseChildren(TenantRepository[Any]):
    """Rows hanging off a case (timeline entries, evidence), read per case."""

    order_by: str  # the column that orders a case's rows

    async def by_cases(self, keys: Iterable[Key]) -> dict[Key, list[Any]]:
        found: dict[Key, list[Any]] = defaultdict(list)
        wanted = self.keys_in_scope(keys)
        if wanted:
            stmt = self.select(self.key_in(wanted, self.tenant, self.model.case_id))
            stmt = stmt.order_by(self.model.case_id, getattr(self.model, self.order_by))
            for row in await self.all(stmt):
                found[(row.tenant_id, row.case_id)].append(row)
        return found


class RefundCaseEventRepository(_CaseChildren):
    model = RefundCaseEvent
    order_by = "seq"

    async def last_by_cases(self, keys: Iterable[Key]) -> dict[Key, RefundCaseEvent]:
        """Each case's latest entry (its seq equals the case's event count), as
        read-only views."""
        wanted = self.keys_in_scope(keys)
        if not wanted:
            return {}
        stmt: Select[Any] = self.select().join(RefundCase, _last_event_of_case()).where(
            self.key_in(wanted, col(RefundCase.tenant_id), col(RefundCase.id)))
        return {(e.tenant_id, e.case_id): e for e in await self.views(stmt)}


class RefundEvidenceRepository(_CaseChildren):
    model = RefundEvidence
    order_by = "id"


class IdempotencyRepository(TenantRepository[IdempotencyRecord]):
    model = IdempotencyRecord

    async def find(self, tenant_id: uuid.UUID, operation: str, key: str
                   ) -> IdempotencyRecord | None:
        return await self.first(self.select(col(IdempotencyRecord.tenant_id) == tenant_id,
                                            col(IdempotencyRecord.operation) == operation,
                                            col(IdempotencyRecord.key) == key))


def seek_created(after: tuple[datetime, uuid.UUID] | None, *, ascending: bool) -> list[Any]:
    """Keyset conditions past (created_at, id) in the given direction."""
    if after is None:
        return []
    return [keyset_past(col(RefundCase.created_at), col(RefundCase.id), after,
                        descending=not ascending)]


def seek_due(after: tuple[datetime | None, uuid.UUID] | None) -> list[Any]:
    """Keyset conditions past (next_due_at, id), cases without a deadline last."""
    if after is None:
        return []
    at, last = after
    due, ident = col(RefundCase.next_due_at), col(RefundCase.id)
    if at is None:  # already among the cases without a running deadline
        return [due.is_(None), ident > last]
    return [or_(due > at, and_(due == at, ident > last), due.is_(None))]


__all__: Sequence[str] = (
    "CaseFilter", "CaseOrder", "IdempotencyRepository", "RefundCaseEventRepository",
    "RefundCaseRepository", "RefundEvidenceRepository", "seek_created", "seek_due",
)
