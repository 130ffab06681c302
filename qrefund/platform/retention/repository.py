"""The SQL of retention: due subjects, their rows, moving them, and purging delivery logs.

Generic over the tables of a :class:`~qrefund.platform.retention.plan.SubjectPlan`;
every statement names its tenants (``tenant_id``) and is filtered to the unit's scope.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, exists, insert, select, text, tuple_

from qrefund.platform.db import UnitOfWork
from qrefund.platform.repository import TenantRepository, scoped_to
from qrefund.platform.retention.models import ArchivedRecord
from qrefund.platform.retention.plan import SubjectPlan
from qrefund.platform.webhooks.models import WebhookDelivery, WebhookDeliveryAttempt

Key = tuple[uuid.UUID, uuid.UUID]


class ArchiveRepository(TenantRepository[ArchivedRecord]):
    model = ArchivedRecord

    async def find(self, tenant_id: uuid.UUID, subject_type: str,
                   subject_id: uuid.UUID) -> ArchivedRecord | None:
        if not self.scope.allows(tenant_id):
            return None
        return await self.first(self.select(
            ArchivedRecord.tenant_id == tenant_id,  # type: ignore[arg-type]
            ArchivedRecord.subject_type == subject_type,  # type: ignore[arg-type]
            ArchivedRecord.subject_id == subject_id))  # type: ignore[arg-type]


class SubjectTables:
    """Reads and deletes of a plan's tables inside the unit's scope."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    async def _run(self, stmt: Any, table: Table) -> Any:
        return await self.uow._execute(scoped_to(stmt, table.c.tenant_id, self.uow.scope))

    async def due(self, plan: SubjectPlan, before: datetime, limit: int) -> list[Key]:
        """Closed subjects older than ``before`` that no live row names, oldest first."""
        t = plan.table
        stmt = select(t.c.tenant_id, t.c.id).where(
            t.c.status.in_(plan.closed_statuses), t.c[plan.closed_at] < before)
        for blocker, column in plan.blockers:
            other = blocker.alias("blocker")
            stmt = stmt.where(~exists().where(other.c.tenant_id == t.c.tenant_id,
                                              other.c[column] == t.c.id))
        stmt = stmt.order_by(t.c[plan.closed_at]).limit(limit)
        return [(r[0], r[1]) for r in (await self._run(stmt, t)).all()]

    async def rows(self, table: Table, column: str, tenant_id: uuid.UUID,
                   ids: Sequence[uuid.UUID]) -> list[dict[str, Any]]:
        if not ids:
            return []
        stmt = select(table).where(table.c.tenant_id == tenant_id, table.c[column].in_(ids)
                                   ).order_by(*table.primary_key)
        return [dict(r._mapping) for r in (await self._run(stmt, table)).all()]

    async def allow_archiving(self) -> None:
        """Let this transaction delete rows of append-only timelines (PostgreSQL's trigger
        reads ``qrefund.archiving``): only after they were copied into the archive."""
        if not self.uow.is_sqlite:
            await self.uow._execute(text("SELECT set_config('qrefund.archiving', 'on', true)"))

    async def remove(self, table: Table, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> None:
        if ids:
            await self._run(delete(table).where(table.c.tenant_id == tenant_id,
                                                table.c.id.in_(ids)), table)

    async def archive(self, record: dict[str, Any]) -> None:
        table = ArchivedRecord.__table__  # type: ignore[attr-defined]
        if not self.uow.scope.allows(record["tenant_id"]):
            raise PermissionError("a record of a tenant outside the scope")
        await self.uow._execute(insert(table), [record])


class DeliveryLogs:
    """Finished webhook deliveries and their attempts."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    async def purge(self, statuses: Sequence[str], before: datetime, limit: int) -> int:
        d = WebhookDelivery.__table__  # type: ignore[attr-defined]
        a = WebhookDeliveryAttempt.__table__  # type: ignore[attr-defined]
        stmt = scoped_to(select(d.c.tenant_id, d.c.id).where(
            d.c.status.in_(statuses), d.c.created_at < before).order_by(d.c.created_at)
            .limit(limit), d.c.tenant_id, self.uow.scope)
        keys = [(r[0], r[1]) for r in (await self.uow._execute(stmt)).all()]
        if not keys:
            return 0
        await self.uow._execute(scoped_to(delete(a).where(
            tuple_(a.c.tenant_id, a.c.delivery_id).in_(keys)), a.c.tenant_id, self.uow.scope))
        await self.uow._execute(scoped_to(delete(d).where(
            tuple_(d.c.tenant_id, d.c.id).in_(keys)), d.c.tenant_id, self.uow.scope))
        return len(keys)
