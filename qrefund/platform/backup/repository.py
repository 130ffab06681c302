"""The SQL of backups: whole tables read and written by tenant, in keyset batches.

A backup works on every tenant table the models declare (passed in by the caller,
which owns the metadata), so this repository is generic over ``Table``; every
statement names the tenants it reads or writes, inside the unit's scope.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, func, insert, or_, select, tuple_

from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import NotFound
from qrefund.platform.repository import scoped_to

BATCH = 1000


def _tenant_column(table: Table) -> Any:
    return table.c.id if table.name == "tenants" else table.c.tenant_id


class BackupRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def _check(self, tenant_ids: Sequence[uuid.UUID]) -> None:
        if not all(self.uow.scope.allows(t) for t in tenant_ids):
            raise NotFound("tenant not found")

    async def tenant_rows(self, tenants: Table, ids: Sequence[uuid.UUID],
                          *, children: bool) -> list[dict[str, Any]]:
        """The tenants ``ids`` (and, with ``children``, those whose parent they are)."""
        self._check(ids)
        where: ColumnElement[bool] = tenants.c.id.in_(ids)
        if children:
            where = or_(where, tenants.c.parent_id.in_(ids))
        stmt = scoped_to(select(tenants).where(where).order_by(tenants.c.id), tenants.c.id,
                         self.uow.scope)
        return [dict(r._mapping) for r in (await self.uow._execute(stmt)).all()]

    async def operator_id(self, tenants: Table) -> uuid.UUID | None:
        """The operator tenant of this deployment, if it was bootstrapped."""
        stmt = scoped_to(select(tenants.c.id).where(tenants.c.kind == "OPERATOR").limit(1),
                         tenants.c.id, self.uow.scope)
        found: uuid.UUID | None = (await self.uow._execute(stmt)).scalar()
        return found

    async def stream(self, table: Table, tenant_ids: Sequence[uuid.UUID]
                     ) -> AsyncIterator[list[dict[str, Any]]]:
        """The tenants' rows of ``table`` in primary-key order, ``BATCH`` at a time
        (keyset pages: memory stays flat whatever the table's size)."""
        self._check(tenant_ids)
        key = list(table.primary_key.columns)
        last: tuple[Any, ...] | None = None
        while True:
            stmt = select(table).where(_tenant_column(table).in_(tenant_ids))
            if last is not None:
                stmt = stmt.where(tuple_(*key) > tuple_(*last))
            stmt = scoped_to(stmt.order_by(*key).limit(BATCH), _tenant_column(table),
                             self.uow.scope)
            rows = [dict(r._mapping) for r in (await self.uow._execute(stmt)).all()]
            if not rows:
                return
            yield rows
            if len(rows) < BATCH:
                return
            last = tuple(rows[-1][c.name] for c in key)

    async def count(self, table: Table, tenant_ids: Sequence[uuid.UUID]) -> int:
        self._check(tenant_ids)
        column = _tenant_column(table)
        stmt = scoped_to(select(func.count()).select_from(table).where(
            column.in_(tenant_ids)), column, self.uow.scope)
        return int((await self.uow._execute(stmt)).scalar() or 0)

    async def insert(self, table: Table, rows: list[dict[str, Any]]) -> None:
        """Insert rows as they were (keys, ciphertexts and timestamps unchanged)."""
        self._check(sorted({r[_tenant_column(table).name] for r in rows}))
        await self.uow._execute(insert(table), rows)
