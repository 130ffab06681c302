"""All SQL of the refunds domain: cases, their timelines and evidence, idempotency keys.

Every statement is built by a :class:`~qrefund.platform.repository.TenantRepository`
and so carries the caller's scope.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, or_
from sqlmodel import col

from qrefund.platform.outbox.models import IdempotencyRecord
from qrefund.platform.refunds.models import RefundCase, RefundCaseEvent, RefundEvidence
from qrefund.platform.repository import Key, TenantRepository


class RefundCaseRepository(TenantRepository[RefundCase]):
    model = RefundCase

    async def by_transactions(self, keys: Iterable[Key]) -> dict[Key, list[RefundCase]]:
        """Cases of each (merchant, transaction), oldest first."""
        found: dict[Key, list[RefundCase]] = defaultdict(list)
        wanted = sorted({k for k in keys if self.scope.allows(k[0])})
        if wanted:
            stmt = self.select(self.key_in(wanted, col(RefundCase.tenant_id),
                                           col(RefundCase.transaction_id)))
            for case in await self.all(stmt.order_by(col(RefundCase.created_at),
                                                      col(RefundCase.id))):
                found[(case.tenant_id, case.transaction_id)].append(case)
        return found

    async def page(self, conditions: list[Any], order: Any, *, first: int) -> list[RefundCase]:
        """``first + 1`` cases matching ``conditions`` (seek conditions included)."""
        return await self.all(self.select(*conditions).order_by(*order).limit(first + 1))

    async def count_where(self, conditions: list[Any]) -> int:
        return int(await self.scalar(self.count(*conditions)))


class _CaseChildren(TenantRepository[Any]):
    """Rows hanging off a case (timeline entries, evidence), read per case."""

    order_by: str  # the column that orders a case's rows

    async def by_cases(self, keys: Iterable[Key]) -> dict[Key, list[Any]]:
        found: dict[Key, list[Any]] = defaultdict(list)
        wanted = sorted({k for k in keys if self.scope.allows(k[0])})
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
        """Each case's latest entry: its seq equals the case's event count."""
        wanted = sorted({k for k in keys if self.scope.allows(k[0])})
        if not wanted:
            return {}
        stmt: Select[Any] = self.select().join(
            RefundCase, and_(col(RefundCase.tenant_id) == col(RefundCaseEvent.tenant_id),
                             col(RefundCase.id) == col(RefundCaseEvent.case_id),
                             col(RefundCase.event_count) == col(RefundCaseEvent.seq)),
        ).where(self.key_in(wanted, col(RefundCase.tenant_id), col(RefundCase.id)))
        return {(e.tenant_id, e.case_id): e for e in await self.all(stmt)}


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
    at, last = after
    created, ident = col(RefundCase.created_at), col(RefundCase.id)
    if ascending:
        return [or_(created > at, and_(created == at, ident > last))]
    return [or_(created < at, and_(created == at, ident < last))]


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
    "IdempotencyRepository", "RefundCaseEventRepository", "RefundCaseRepository",
    "RefundEvidenceRepository", "seek_created", "seek_due",
)
