"""Reading refund cases: the filtered, keyset-paginated list and the batch reads
behind the per-request data loaders (one statement per batch, whatever its size)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, and_, func, or_, select, tuple_
from sqlmodel import col

from qrefund.platform.clock import utcnow
from qrefund.platform.db import UnitOfWork
from qrefund.platform.pagination import (
    Page,
    cursor_datetime,
    encode_cursor,
    invalid_cursor,
    parse_cursor,
)
from qrefund.platform.refunds.enums import RefundCaseStatus, RefundReason, RequestChannel
from qrefund.platform.refunds.models import RefundCase, RefundCaseEvent, RefundEvidence
from qrefund.platform.repository import scoped
from qrefund.platform.roles import Permission
from qrefund.platform.transactions.models import Transaction

Key = tuple[uuid.UUID, uuid.UUID]


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


def _filtered(uow: UnitOfWork, flt: CaseFilter) -> Select[Any]:
    stmt = scoped(select(RefundCase), col(RefundCase.tenant_id), uow.scope)
    conditions: list[Any] = []
    if flt.merchant_ids is not None:
        allowed = [m for m in flt.merchant_ids if uow.scope.allows(m)]
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
    return stmt.where(*conditions) if conditions else stmt


def _parse_cursor(after: str) -> tuple[datetime | None, uuid.UUID]:
    at, last = parse_cursor(after, lambda v: cursor_datetime(v) if v else None, uuid.UUID)
    return at, last


def _seek(stmt: Select[Any], order: CaseOrder, after: str | None) -> Select[Any]:
    created, due = col(RefundCase.created_at), col(RefundCase.next_due_at)
    ident = col(RefundCase.id)
    if order == CaseOrder.DUE_ASC:
        if after:
            at, last = _parse_cursor(after)
            if at is None:  # already among the cases without a running deadline
                stmt = stmt.where(due.is_(None), ident > last)
            else:
                stmt = stmt.where(or_(due > at, and_(due == at, ident > last), due.is_(None)))
        return stmt.order_by(due.asc().nulls_last(), ident.asc())
    if after:
        at, last = _parse_cursor(after)
        if at is None:
            raise invalid_cursor()
        if order == CaseOrder.CREATED_ASC:
            stmt = stmt.where(or_(created > at, and_(created == at, ident > last)))
        else:
            stmt = stmt.where(or_(created < at, and_(created == at, ident < last)))
    if order == CaseOrder.CREATED_ASC:
        return stmt.order_by(created.asc(), ident.asc())
    return stmt.order_by(created.desc(), ident.desc())


def _cursor(case: RefundCase, order: CaseOrder) -> str:
    at = case.next_due_at if order == CaseOrder.DUE_ASC else case.created_at
    return encode_cursor([at.isoformat() if at else "", case.id])


async def list_page(uow: UnitOfWork, flt: CaseFilter, *, order: CaseOrder = CaseOrder.CREATED_DESC,
                    first: int, after: str | None = None) -> Page[RefundCase]:
    """One statement for the page, whatever its size."""
    uow.scope.require(Permission.READ)
    stmt = _seek(_filtered(uow, flt), order, after).limit(first + 1)
    rows = list((await uow.session.execute(stmt)).scalars())
    return Page.from_rows(rows, first=first, after=after, cursor=lambda c: _cursor(c, order))


async def count(uow: UnitOfWork, flt: CaseFilter) -> int:
    uow.scope.require(Permission.READ)
    stmt = _filtered(uow, flt).with_only_columns(func.count()).order_by(None)
    return int((await uow.session.execute(stmt)).scalar_one())


def _allowed(uow: UnitOfWork, keys: Sequence[Key]) -> list[Key]:
    return sorted({k for k in keys if uow.scope.allows(k[0])})


async def cases_by_id(uow: UnitOfWork, keys: Sequence[Key]) -> dict[Key, RefundCase]:
    wanted = _allowed(uow, keys)
    if not wanted:
        return {}
    pair = tuple_(col(RefundCase.tenant_id), col(RefundCase.id))
    stmt = select(RefundCase).where(pair.in_(wanted))
    stmt = scoped(stmt, col(RefundCase.tenant_id), uow.scope)
    return {(c.tenant_id, c.id): c for c in (await uow.session.execute(stmt)).scalars()}


async def cases_by_transaction(uow: UnitOfWork, keys: Sequence[Key]) -> dict[Key, list[RefundCase]]:
    """Cases of each (merchant, transaction), oldest first."""
    found: dict[Key, list[RefundCase]] = defaultdict(list)
    wanted = _allowed(uow, keys)
    if wanted:
        pair = tuple_(col(RefundCase.tenant_id), col(RefundCase.transaction_id))
        stmt = scoped(select(RefundCase).where(pair.in_(wanted)), col(RefundCase.tenant_id),
                      uow.scope).order_by(col(RefundCase.created_at), col(RefundCase.id))
        for c in (await uow.session.execute(stmt)).scalars():
            found[(c.tenant_id, c.transaction_id)].append(c)
    return found


async def _children_by_case(uow: UnitOfWork, keys: Sequence[Key], model: Any,
                            order: Any) -> dict[Key, list[Any]]:
    """Rows of a child table of cases, grouped by (tenant, case), in ``order``."""
    found: dict[Key, list[Any]] = defaultdict(list)
    wanted = _allowed(uow, keys)
    if wanted:
        pair = tuple_(col(model.tenant_id), col(model.case_id))
        stmt = scoped(select(model).where(pair.in_(wanted)), col(model.tenant_id), uow.scope)
        stmt = stmt.order_by(col(model.case_id), order)
        rows: list[Any] = list((await uow.session.execute(stmt)).scalars())
        for row in rows:
            found[(row.tenant_id, row.case_id)].append(row)
    return found


async def events_by_case(uow: UnitOfWork, keys: Sequence[Key]) -> dict[Key, list[RefundCaseEvent]]:
    """Each case's timeline in order."""
    return await _children_by_case(uow, keys, RefundCaseEvent, col(RefundCaseEvent.seq))


async def last_event_by_case(uow: UnitOfWork, keys: Sequence[Key]) -> dict[Key, RefundCaseEvent]:
    """Each case's latest timeline entry: seq equals the case's event count."""
    wanted = _allowed(uow, keys)
    if not wanted:
        return {}
    stmt = (
        select(RefundCaseEvent)
        .join(RefundCase, and_(col(RefundCase.tenant_id) == col(RefundCaseEvent.tenant_id),
                               col(RefundCase.id) == col(RefundCaseEvent.case_id),
                               col(RefundCase.event_count) == col(RefundCaseEvent.seq)))
        .where(tuple_(col(RefundCase.tenant_id), col(RefundCase.id)).in_(wanted))
    )
    stmt = scoped(stmt, col(RefundCaseEvent.tenant_id), uow.scope)
    return {(e.tenant_id, e.case_id): e for e in (await uow.session.execute(stmt)).scalars()}


async def evidence_by_case(uow: UnitOfWork, keys: Sequence[Key]) -> dict[Key, list[RefundEvidence]]:
    return await _children_by_case(uow, keys, RefundEvidence, col(RefundEvidence.id))


async def transactions_by_key(uow: UnitOfWork, keys: Sequence[Key]) -> dict[Key, Transaction]:
    """The payments cases refer to, by (merchant, transaction id)."""
    wanted = _allowed(uow, keys)
    if not wanted:
        return {}
    pair = tuple_(col(Transaction.tenant_id), col(Transaction.id))
    stmt = scoped(select(Transaction).where(pair.in_(wanted)), col(Transaction.tenant_id),
                  uow.scope)
    return {(t.tenant_id, t.id): t for t in (await uow.session.execute(stmt)).scalars()}
