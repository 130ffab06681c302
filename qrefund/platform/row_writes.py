"""Rows written past the ORM's flush: the repository's Core inserts and updates.

The ORM's add-and-flush is the general path; these are for the hot writes, where its
unit-of-work bookkeeping (sorting, history, one statement built per flush) costs more
than the statement itself. Every row still meets the wall's rules, checked here as
the flush guard checks the rows it sees: the tenant is in the unit's scope and is not
suspended. Row-level security on PostgreSQL stays behind them.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from sqlalchemy import bindparam, inspect, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.exc import StaleDataError

from qrefund.platform import counter_turns
from qrefund.platform.errors import CommonError, Conflict
from qrefund.platform.sql_parts import (
    COUNTER_PARAMETER,
    as_is,
    counted_insert,
    single_insert,
    unnested,
)
from qrefund.platform.statements import SCOPED_OPTION

if TYPE_CHECKING:
    from qrefund.platform.db import UnitOfWork
    from qrefund.platform.scope import TenantScope

M = TypeVar("M")

# What a suspended merchant's owner may still change: the merchant record itself (its
# agency reactivates or closes it) and its keys (revoking one must always work).
WRITABLE_WHEN_FROZEN = frozenset({"tenants", "api_keys"})


def check_frozen_rows(scope: Any, table: str, tenant_ids: Sequence[Any]) -> None:
    """No row of a suspended merchant is written in a caller's unit (the flush guard's
    rule, :func:`qrefund.platform.repository.install_guards`, for any rows)."""
    if (scope.frozen_tenant_ids and table not in WRITABLE_WHEN_FROZEN
            and tenant_ids and not scope.frozen_tenant_ids.isdisjoint(tenant_ids)):
        raise Conflict("the merchant is suspended: nothing new can be written",
                       code=CommonError.MERCHANT_SUSPENDED)


@cache
def _keys_and_columns(table: Any) -> tuple[tuple[str, ...], frozenset[str]]:
    """The primary key's columns and every column of ``table``, by name."""
    return tuple(c.name for c in table.primary_key.columns), frozenset(table.c.keys())


@cache
def _attribute_names(mapper: Any) -> tuple[str, ...]:
    """The mapped attribute of each column of the table, in the table's order."""
    return tuple(mapper.get_property_by_column(c).key for c in mapper.local_table.columns)


@cache
def _update_by_key(table: Any, names: tuple[str, ...]) -> Any:
    """``UPDATE table SET names... WHERE <primary key> = :key_...``, built once per set of
    columns (the statement cache then finds it by identity)."""
    keys, _ = _keys_and_columns(table)
    return (update(table)
            .where(*(table.c[k] == bindparam(f"key_{k}", type_=table.c[k].type) for k in keys))
            .values({n: bindparam(n, type_=table.c[n].type) for n in names})
            .execution_options(**{SCOPED_OPTION: True}))


class RowWrites(Generic[M]):
    """The Core writes of :class:`~qrefund.platform.repository.TenantRepository`."""

    model: ClassVar[type[Any]]
    tenant_column: ClassVar[str]
    uow: UnitOfWork
    scope: TenantScope

    if TYPE_CHECKING:  # the repository's own, which these writes go through
        def require_in_scope(self, tenant_id: Any, *, what: str = "object",
                             field: Sequence[str] | None = ("id",)) -> None: ...

        def add(self, row: M) -> M: ...

        async def execute(self, stmt: Any) -> Any: ...

    async def insert_rows(self, rows: Sequence[dict[str, Any]], *,
                          skip_conflicts_on: Sequence[str] = (),
                          returning: str | None = None) -> list[Any]:
        """Many new rows (every column named) in one ``INSERT``, for bulk writers that
        skip the ORM: ``ON CONFLICT (skip_conflicts_on) DO NOTHING`` when given, and the
        ``returning`` column of the rows written. Each row must belong to a tenant in
        scope (the flush guard does not see Core inserts; RLS still checks them).

        PostgreSQL gets one array parameter per column, unnested side by side (a short
        statement compiled and planned once, whatever the number of rows); SQLite a
        multi-row ``VALUES`` list.
        """
        if not rows:
            return []
        table: Any = self.model.__table__
        names = self.check_new_rows(rows)
        if len(rows) == 1:
            # One row: a statement built once and run with the row as its parameters,
            # on the unit's connection (~0.4 ms, against ~1.0 ms for the unnested form
            # built per call and ~0.6-0.9 ms for an ORM add and flush).
            single = single_insert(table, tuple(skip_conflicts_on), returning,
                                   self.uow.is_sqlite)
            kept = await self.uow._execute_kept(single, rows[0])
            return kept.scalars() if returning is not None else []
        if self.uow.is_sqlite:
            stmt: Any = sqlite_insert(table).values(list(rows))
        else:
            stmt = postgresql_insert(table).from_select(names, select(*(
                unnested(table.c[n], [r[n] for r in rows]) for n in names)))
        if skip_conflicts_on:
            stmt = stmt.on_conflict_do_nothing(index_elements=list(skip_conflicts_on))
        if returning is not None:
            stmt = stmt.returning(table.c[returning])
        result = await self.execute(stmt.execution_options(**{SCOPED_OPTION: True}))
        return list(result.scalars()) if returning is not None else []

    async def insert_with_counter(self, row: dict[str, Any], column: str, counters: Any,
                                  counter: str, form: Any = as_is, **extra: Any) -> Any:
        """Write the new ``row`` (every column named; its ``column``'s value ignored) at
        once, as :meth:`insert_rows` does, ``column`` being ``form`` of the next value of
        its tenant's ``counter`` (``counters``: the counters' table), drawn by the same
        statement (:func:`~qrefund.platform.sql_parts.counted_insert`, PostgreSQL);
        ``extra``: the form's own parameters. Returns the value written to ``column``."""
        self.check_new_rows([row])
        values = {k: v for k, v in row.items() if k != column}
        table: Any = self.model.__table__
        async with counter_turns.turn(self.uow, row[self.tenant_column], counter):
            result = await self.uow._execute_kept(
                counted_insert(table, column, counters, form),
                {**values, **extra, COUNTER_PARAMETER: counter})
        return result.scalar_one()

    def check_new_rows(self, rows: Sequence[dict[str, Any]]) -> list[str]:
        """For rows written past the session: each names every column (returned, in
        order) and belongs to a tenant in scope that is not suspended (the flush guard's
        rule, for rows it never sees)."""
        table: Any = self.model.__table__
        names = [c.name for c in table.columns]
        for row in rows:
            if row.keys() != set(names):
                raise ValueError(f"a {table.name} row must name exactly its columns")
        self._check_writable(table.name, [r[self.tenant_column] for r in rows])
        return names

    def _check_writable(self, table: str, tenant_ids: Sequence[Any]) -> None:
        """Rows of these tenants may be written past the session: each tenant is in
        scope and not suspended (the flush guard's rule, for rows it never sees)."""
        for tenant_id in tenant_ids:
            self.require_in_scope(tenant_id, what="tenant", field=None)
        check_frozen_rows(self.scope, table, tenant_ids)

    async def insert_now(self, row: M) -> M:
        """Write one new row at once, with a Core INSERT (``insert_rows``: cheaper than
        the ORM's add and flush), for rows never changed after they are written (events,
        timeline entries). The object stays outside the unit: changing it later writes
        nothing. Pending changes are flushed first, so its foreign keys find their rows."""
        await self.insert_rows([self.row_values(row)])
        return row

    async def insert_kept(self, row: M) -> M:
        """Write one new row at once, as :meth:`insert_now`, and keep it in the unit as a
        row read from the database: a change made to it later is written as for any
        loaded row (at the next flush, or by :meth:`write_changes`). Inside a savepoint
        the row goes the ORM's way (added and flushed), so that rolling the savepoint
        back forgets it."""
        if self.uow._in_savepoint():
            self.add(row)
            await self.uow.flush()
            return row
        await self.insert_rows([self.row_values(row)])
        return self._hold_as_loaded(row)

    async def write_changes(self, row: M) -> None:
        """Write a loaded row's changed columns now, in one ``UPDATE`` by primary key
        built once per set of columns, past the ORM's flush (whose bookkeeping costs
        more than the statement: a case's transition, ~0.5 ms). The row stays in the
        unit with nothing pending.

        The ORM's way instead (staged, written at the next flush) for a row the unit
        does not hold as loaded, a changed key, or inside a savepoint: a savepoint rolled
        back expires the rows its flushes wrote, and would not know of this one."""
        state: Any = inspect(row)
        table: Any = self.model.__table__
        keys, columns = _keys_and_columns(table)
        changed = tuple(sorted(state.committed_state))
        if not state.persistent or not changed or not columns.issuperset(changed) \
                or any(k in changed for k in keys) or self.uow._in_savepoint():
            self.add(row)
            return
        self._check_writable(table.name, [getattr(row, self.tenant_column)])
        values = state.dict
        params = {n: values[n] for n in changed}
        params.update({f"key_{k}": values[k] for k in keys})
        # Marked as written first (what a flush does to the rows it wrote: nothing
        # pending, history cleared), so the flush of the unit's other pending changes
        # that runs before the statement leaves this row out. If the statement fails the
        # unit fails with it, and its session goes with it.
        state._commit_all(values, self.uow._identity_map())
        result = await self.uow._execute_kept(_update_by_key(table, changed), params)
        if result.rowcount != 1:
            raise StaleDataError(f"UPDATE of one {table.name} row matched {result.rowcount}")

    def kept_loaded(self, values: Sequence[Any]) -> M:
        """A row read past the ORM (every column, in the table's order) as an object the
        unit holds as loaded, as the ORM would have made it: built without running the
        model's ``__init__`` (~0.1 ms for a case; the ORM's loading does the same), its
        identity taken from its key. The caller checked the unit does not hold it yet."""
        mapper: Any = inspect(self.model)
        row: Any = mapper.class_manager.new_instance()
        row.__dict__.update(zip(_attribute_names(mapper), values, strict=True))
        return self._hold_as_loaded(row)

    def _hold_as_loaded(self, row: M) -> M:
        """A new object whose row is in the database, held by the unit as loaded (its
        identity from its key, nothing pending)."""
        make_transient_to_detached(row)
        self.uow._add(row)
        return row

    def row_values(self, row: M) -> dict[str, Any]:
        """Every column of ``row`` by name, as a Core insert takes it."""
        columns = self.model.__table__.columns
        return {c.name: getattr(row, c.name) for c in columns}
