"""Reading refund cases: the filtered, keyset-paginated list and the batch reads
behind the per-request data loaders (one statement per batch, whatever its size)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import or_
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
from qrefund.platform.refunds.repository import (
    RefundCaseEventRepository,
    RefundCaseRepository,
    RefundEvidenceRepository,
    seek_created,
    seek_due,
)
from qrefund.platform.roles import Permission
from qrefund.platform.transactions import service as transactions
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


def _conditions(uow: UnitOfWork, flt: CaseFilter) -> list[Any]:
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
    return conditions


def _parse_cursor(after: str) -> tuple[datetime | None, uuid.UUID]:
    at, last = parse_cursor(after, lambda v: cursor_datetime(v) if v else None, uuid.UUID)
    return at, last


def _seek(order: CaseOrder, after: str | None) -> tuple[list[Any], list[Any]]:
    """The keyset conditions past ``after`` and the ORDER BY of ``order``."""
    created, due = col(RefundCase.created_at), col(RefundCase.next_due_at)
    ident = col(RefundCase.id)
    position = _parse_cursor(after) if after else None
    if order == CaseOrder.DUE_ASC:
        return seek_due(position), [due.asc().nulls_last(), ident.asc()]
    if position is not None and position[0] is None:
        raise invalid_cursor()
    ascending = order == CaseOrder.CREATED_ASC
    seek = seek_created(position, ascending=ascending)  # type: ignore[arg-type]
    if ascending:
        return seek, [created.asc(), ident.asc()]
    return seek, [created.desc(), ident.desc()]


def _cursor(case: RefundCase, order: CaseOrder) -> str:
    at = case.next_due_at if order == CaseOrder.DUE_ASC else case.created_at
    return encode_cursor([at.isoformat() if at else "", case.id])


async def list_page(uow: UnitOfWork, flt: CaseFilter, *, order: CaseOrder = CaseOrder.CREATED_DESC,
                    first: int, after: str | None = None) -> Page[RefundCase]:
    """One statement for the page, whatever its size."""
    uow.scope.require(Permission.READ)
    seek, ordering = _seek(order, after)
    rows = await RefundCaseRepository(uow).page([*_conditions(uow, flt), *seek], ordering,
                                                first=first)
    return Page.from_rows(rows, first=first, after=after, cursor=lambda c: _cursor(c, order))


async def count(uow: UnitOfWork, flt: CaseFilter) -> int:
    uow.scope.require(Permission.READ)
    return await RefundCaseRepository(uow).count_where(_conditions(uow, flt))


async def cases_by_id(uow: UnitOfWork, keys: Sequence[Key]) -> dict[Key, RefundCase]:
    return await RefundCaseRepository(uow).by_keys(keys)


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
    """The payments cases refer to, by (merchant, transaction id)."""
    return await transactions.by_keys(uow, keys)
