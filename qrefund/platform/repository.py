"""The tenancy wall: every read and write of a tenant table goes through a repository.

A :class:`TenantRepository` is bound to a unit of work, and so to the caller's
:class:`~qrefund.platform.scope.TenantScope`. Every statement it builds already
carries the scope's ``tenant_id`` condition (:meth:`~TenantRepository.select`,
:meth:`~TenantRepository.update`, :meth:`~TenantRepository.delete`), every row it
adds must belong to a tenant in scope, and another tenant's id simply finds
nothing (*not found*, never *forbidden*).

Two guards make this the only path (see :func:`install_guards`):

* a statement on a tenant table that did not come from a repository raises
  :class:`UnscopedQuery` before it reaches the database;
* a flush that would write a row of a tenant outside the unit's scope raises.

Row-level security on PostgreSQL stays behind both as the second wall.

Hot lists can skip ORM objects: :meth:`~TenantRepository.select_columns` and
:meth:`~TenantRepository.rows` return plain rows (SQLAlchemy Core), and
:meth:`~TenantRepository.views` read-only views with the model's attributes, built and
filtered the same way.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import orjson
from sqlalchemy import (
    ColumnElement,
    Delete,
    Result,
    Row,
    Select,
    Text,
    Update,
    Uuid,
    any_,
    bindparam,
    cast,
    delete,
    event,
    func,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.sql.util import find_tables
from sqlmodel import SQLModel

from qrefund.platform.errors import NotFound
from qrefund.platform.read_views import view_class, view_columns, view_keys
from qrefund.platform.row_writes import RowWrites, check_frozen_rows
from qrefund.platform.sql_parts import in_keys
from qrefund.platform.statements import (
    SCOPE,
    SCOPED_OPTION,
    compiled,
    kept,
    scope_parameters,
    scope_shape,
)

if TYPE_CHECKING:
    from qrefund.platform.db import UnitOfWork
    from qrefund.platform.scope import TenantScope

M = TypeVar("M")
S = TypeVar("S", bound=Select[Any] | Update | Delete)
Key = tuple[uuid.UUID, uuid.UUID]
KeyT = TypeVar("KeyT", bound=tuple[Any, ...])  # a key whose first part is the tenant

_known: tuple[int, dict[str, str]] = (-1, {})


class UnscopedQuery(RuntimeError):
    """A statement on a tenant table that did not go through a repository."""


def tenant_tables() -> dict[str, str]:
    """Every tenant table and the column naming its tenant, read from the models: each
    table with a ``tenant_id`` column, and the tenants table itself (keyed by ``id``)."""
    global _known
    tables = SQLModel.metadata.tables
    if _known[0] != len(tables):
        found = {name: "tenant_id" for name, table in tables.items() if "tenant_id" in table.c}
        found["tenants"] = "id"
        _known = (len(tables), found)
    return _known[1]


class TenantRepository(RowWrites[M], Generic[M]):
    """Reads and writes of one tenant table inside the unit's scope.

    Subclasses name the model; ``tenant_column`` is ``"tenant_id"`` except for the
    tenants table itself.
    """

    model: ClassVar[type[Any]]
    tenant_column: ClassVar[str] = "tenant_id"

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.scope: TenantScope = uow.scope

    # -- statements ------------------------------------------------------------------------

    @property
    def tenant(self) -> Any:
        return getattr(self.model, self.tenant_column)

    def in_scope(self, column: Any = None, *, parameter: bool = False
                 ) -> ColumnElement[bool] | None:
        """The scope condition on this table's tenant column (or on ``column``, for a
        statement that reads another table through this repository). ``parameter``:
        the parameter ``statements.SCOPE`` (``statements.scope_shape``), for a statement
        compiled once (:mod:`qrefund.platform.statements`)."""
        if self.scope.tenant_ids is None:
            return None
        target = self.tenant if column is None else column
        if not parameter:
            return target.in_(sorted(self.scope.tenant_ids))  # type: ignore[no-any-return]
        if scope_shape(self.scope.tenant_ids) == "one":
            return target == bindparam(SCOPE, type_=Uuid)  # type: ignore[no-any-return]
        return target == any_(bindparam(SCOPE, type_=ARRAY(Uuid)))  # type: ignore[no-any-return]

    def _scoped(self, stmt: S, column: Any = None, *, parameter: bool = False) -> S:
        condition = self.in_scope(column, parameter=parameter)
        if condition is not None:
            stmt = stmt.where(condition)  # type: ignore[assignment]
        return stmt.execution_options(**{SCOPED_OPTION: True})  # type: ignore[return-value]

    def select(self, *where: Any) -> Select[tuple[M]]:
        """``SELECT model WHERE <scope> AND where...``."""
        return self._scoped(select(self.model).where(*where))

    def select_columns(self, *columns: Any, where: Iterable[Any] = ()) -> Select[Any]:
        """Plain columns (Core rows, no ORM objects), filtered by the scope."""
        return self._scoped(select(*columns).select_from(self.model).where(*where))

    def count(self, *where: Any) -> Select[Any]:
        return self._scoped(select(func.count()).select_from(self.model).where(*where))

    def update(self, *where: Any) -> Update:
        """A bulk UPDATE. Rows of it already loaded in the unit are not refreshed (no
        hidden SELECT): re-read them with ``get(..., lock=True)`` when they matter."""
        return self._scoped(update(self.model).where(*where)).execution_options(
            synchronize_session=False)

    def delete(self, *where: Any) -> Delete:
        return self._scoped(delete(self.model).where(*where)).execution_options(
            synchronize_session=False)

    def scoped(self, stmt: S, tenant_column: Any = None, *, parameter: bool = False) -> S:
        """Any other statement (joins, subqueries, another domain's table read with this
        one), with the scope filter on ``tenant_column`` (default: this table's);
        ``parameter``: see :meth:`in_scope`."""
        return self._scoped(stmt, tenant_column, parameter=parameter)

    def beyond_scope(self, *where: Any, why: str) -> Select[tuple[M]]:
        """``SELECT model WHERE where...`` *without* the scope filter: a deliberate read
        of rows outside the caller's scope (a merchant reading its agency's policy
        template, a consumer's slug look-up). Each use is named here and listed in
        ``tests/foundation/test_architecture.py``; ``why`` says what bounds it.
        PostgreSQL's row-level security still applies."""
        assert why, "say what bounds a read beyond the scope"
        return select(self.model).where(*where).execution_options(
            **{SCOPED_OPTION: True, "qrefund_beyond_scope": why})

    def kept(self, shape: Hashable, build: Callable[[], S]) -> tuple[S, dict[str, Any]]:
        """The statement ``build`` makes, built once per repository, ``shape`` and kind of
        scope, and the scope's parameter to run it with
        (:func:`qrefund.platform.statements.kept`). ``build`` names its values as
        parameters and scopes with :meth:`kept_select` or :meth:`kept_scoped`; ``shape``
        names whatever changes the statement's text, never a value."""
        ids = self.scope.tenant_ids
        if self.uow.is_sqlite:
            stmt = kept((type(self), shape, ids is None), build)
            return stmt, ({} if ids is None else {SCOPE: sorted(ids)})
        stmt = kept((type(self), shape, scope_shape(ids)), build)
        return stmt, scope_parameters(ids)

    def kept_scoped(self, stmt: S, column: Any = None) -> S:
        """:meth:`scoped` for a kept statement. On PostgreSQL the scope is the parameter
        of :meth:`in_scope` (``tenant = :scope`` or ``= ANY(:scope)``): a statement with
        no expanding parameter runs on the driver (:mod:`qrefund.platform.driver`). SQLite
        has no arrays: there the ids are the expanding parameter ``SCOPE``."""
        if not self.uow.is_sqlite:
            return self._scoped(stmt, column, parameter=True)
        if self.scope.tenant_ids is not None:
            target = self.tenant if column is None else column
            stmt = stmt.where(target.in_(bindparam(SCOPE, expanding=True)))  # type: ignore[assignment]
        return stmt.execution_options(**{SCOPED_OPTION: True})  # type: ignore[return-value]

    def kept_select(self, *where: Any) -> Select[tuple[M]]:
        """:meth:`select` for a kept statement (:meth:`kept_scoped`)."""
        return self.kept_scoped(select(self.model).where(*where))

    def keys_in_scope(self, keys: Iterable[KeyT]) -> list[KeyT]:
        """The distinct keys, tenant first, of tenants in scope, sorted (others find
        nothing, as their rows would not)."""
        return sorted({k for k in keys if self.scope.allows(k[0])})

    def key_in(self, keys: Sequence[tuple[Any, ...]], *columns: Any,
               types: tuple[Any, ...] | None = None) -> ColumnElement[bool]:
        """``(tenant, id) IN keys`` (or other columns), cheap to plan for many keys."""
        cols = columns or (self.tenant, self.model.id)
        return in_keys(cols, keys, is_sqlite=self.uow.is_sqlite, types=types)

    # -- execution ---------------------------------------------------------------------------

    async def execute(self, stmt: Any) -> Result[Any]:
        return await self.uow._execute(stmt)

    async def all(self, stmt: Select[tuple[M]], params: dict[str, Any] | None = None
                  ) -> list[M]:
        return list((await self.uow._execute(stmt, params)).scalars())

    async def views(self, stmt: Select[tuple[M]]) -> list[M]:
        """The rows ``all(stmt)`` would load, as read-only views (``read_views``): the
        same statement with the model's columns selected instead of the entity, no ORM
        instances. For read paths only: a view can't be changed or flushed."""
        return [row[0] for row in await self.joined_views(stmt, ())]

    async def joined_views(self, stmt: Select[Any], joined: Sequence[type[SQLModel]]
                           ) -> list[tuple[Any, ...]]:
        """Rows of ``stmt`` (this model's, with ``joined`` models' tables joined to it by
        the caller), each as a tuple of views: this model's, then one per joined model,
        None where an outer join found no row. One statement reads a page and the rows
        it refers to."""
        spans = []
        columns: list[Any] = []
        for model in (self.model, *joined):
            start, cols = len(columns), view_columns(model)  # type: ignore[arg-type]
            columns += cols
            spans.append((view_class(model), start, len(columns),  # type: ignore[arg-type]
                          start + view_keys(model).index("id")))  # type: ignore[arg-type]
        result = await self.uow._execute_rows(stmt.with_only_columns(*columns))
        return [tuple(view(row[start:end]) if row[ident] is not None else None
                      for view, start, end, ident in spans) for row in result]

    async def rendered_rows(self, stmt: Select[Any], node: ColumnElement[Any],
                            cursor: ColumnElement[Any]) -> list[Any]:
        """Rows of ``stmt`` as ``cursor`` (the row's page cursor) and ``node`` (its
        JSON text), both built by PostgreSQL (:func:`qrefund.platform.json_render.to_sql`
        of a ``Cursor`` and of an ``Obj``)."""
        return list(await self.uow._execute_rows(
            stmt.with_only_columns(cursor.label("cursor"), cast(node, Text).label("node"))))

    async def compiled_rows(self, shape: Hashable, build: Callable[[], Select[Any]],
                            params: dict[str, Any]) -> list[Any]:
        """Rows of the statement ``build`` makes, compiled once per ``shape`` (which must
        name everything that changes its text, never a value) with its values as the
        named ``params`` and the scope as :data:`statements.SCOPE`."""
        sql = compiled((type(self), shape, scope_shape(self.scope.tenant_ids)), build)
        params.update(scope_parameters(self.scope.tenant_ids))
        return list(await self.uow._execute_sql(sql, params))

    async def rendered_by_key(self, key: Key, node: str, shape: Hashable,
                              joined: Callable[[Select[Any]], Select[Any]] | None = None
                              ) -> dict[str, Any] | None:
        """One row by (tenant, id) as the JSON object the expression ``node``
        (``json_render.to_sql_text``) builds, or None when absent or outside the scope.
        ``joined`` joins the relations ``node`` reads; ``shape`` names that join for the
        statement cache (:mod:`qrefund.platform.statements`: built and compiled once per
        shape, run on the driver)."""
        if not self.scope.allows(key[0]):
            return None

        def build() -> Select[Any]:
            stmt = self.scoped(select(self.model), parameter=True).where(
                self.tenant == bindparam("tenant"), self.model.id == bindparam("id"))
            return (joined(stmt) if joined else stmt).with_only_columns(
                literal_column(f"CAST({node} AS TEXT)").label("node"))

        rows = await self.compiled_rows((shape, node), build, {"tenant": key[0], "id": key[1]})
        return orjson.loads(rows[0].node) if rows else None  # type: ignore[no-any-return]

    def kept_view(self, stmt: Select[Any]) -> Select[Any]:
        """``stmt`` selecting this model's view columns: for a kept statement read with
        :meth:`kept_views` (``views`` would rebuild it on every call)."""
        return stmt.with_only_columns(*view_columns(self.model))  # type: ignore[arg-type]

    async def kept_views(self, stmt: Select[Any], params: dict[str, Any]) -> list[M]:
        """The rows of a kept :meth:`kept_view` statement, as read-only views."""
        view = view_class(self.model)  # type: ignore[arg-type]
        return [view(row) for row in await self.uow._execute_kept(stmt, params)]  # type: ignore[misc]

    async def first_kept_view(self, stmt: Select[Any], params: dict[str, Any]) -> M | None:
        """The first row of :meth:`kept_views` (or None)."""
        return next(iter(await self.kept_views(stmt, params)), None)

    async def first_view(self, stmt: Select[tuple[M]]) -> M | None:
        """The first row ``first(stmt)`` would load, as a read-only view (or None)."""
        return next(iter(await self.views(stmt.limit(1))), None)

    async def first(self, stmt: Select[tuple[M]], params: dict[str, Any] | None = None
                    ) -> M | None:
        found: M | None = (await self.uow._execute(stmt, params)).scalars().first()
        return found

    async def scalar(self, stmt: Select[Any]) -> Any:
        return (await self.execute(stmt)).scalar()

    async def rows(self, stmt: Select[Any]) -> Sequence[Row[Any]]:
        return (await self.execute(stmt)).all()

    async def get(self, tenant_id: uuid.UUID, id: uuid.UUID, *, lock: bool = False) -> M | None:
        """One row by key; None when absent or outside the scope. ``lock`` takes the
        row lock until the unit ends and refreshes an object already in the session."""
        if not self.scope.allows(tenant_id):
            return None
        keys = {"key_tenant": tenant_id, "key_id": id}
        if not self.uow.is_sqlite and self.uow.cached(self.model, self._key(tenant_id, id)) \
                is None:
            return await self._get_row(keys, lock=lock)

        def build() -> Select[tuple[M]]:
            stmt = self.kept_select(self.tenant == bindparam("key_tenant", type_=Uuid),
                                    self.model.id == bindparam("key_id", type_=Uuid))
            if lock:
                stmt = stmt.with_for_update().execution_options(populate_existing=True)
            return stmt

        stmt, params = self.kept(("get", lock), build)
        return await self.first(stmt, {**params, **keys})

    async def _get_row(self, keys: dict[str, Any], *, lock: bool) -> M | None:
        """:meth:`get` of a row the unit does not hold yet (PostgreSQL): its columns read
        on the driver (:mod:`qrefund.platform.driver`, a :meth:`kept` statement) and made
        an object the unit holds as loaded (``kept_loaded``), past the ORM's loading
        (~0.2 ms less a row)."""
        def build() -> Select[Any]:
            table: Any = self.model.__table__
            stmt = self.kept_scoped(select(*table.columns).where(
                self.tenant == bindparam("key_tenant", type_=Uuid),
                self.model.id == bindparam("key_id", type_=Uuid)))
            return stmt.with_for_update() if lock else stmt

        stmt, params = self.kept(("get_row", lock), build)
        found = await self.uow._execute_kept(stmt, {**params, **keys})
        return self.kept_loaded(found.rows[0]) if found.rows else None

    def _key(self, tenant_id: uuid.UUID, id: uuid.UUID) -> tuple[Any, ...]:
        """The identity of the row (tenant, id), in the mapper's primary key order."""
        return (id,) if self.tenant_column == "id" else (tenant_id, id)

    async def require(self, tenant_id: uuid.UUID, id: uuid.UUID, *, lock: bool = False,
                      what: str = "object", field: Sequence[str] | None = ("id",)) -> M:
        found = await self.get(tenant_id, id, lock=lock)
        if found is None:
            raise NotFound(f"{what} not found", field=field)
        return found

    async def by_keys(self, keys: Iterable[Key], *, lock: bool = False,
                      views: bool = False) -> dict[Key, M]:
        """Rows by (tenant, id); keys outside the scope are left out. ``lock`` takes their
        row locks and refreshes copies already in the unit; ``views`` reads them as
        read-only views instead of ORM instances."""
        wanted = self.keys_in_scope(keys)
        if not wanted:
            return {}
        stmt = self.select(self.key_in(wanted))
        if lock:
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        rows = await (self.views(stmt) if views and not lock else self.all(stmt))
        return {(getattr(r, self.tenant_column), r.id): r for r in rows}  # type: ignore[attr-defined]

    def require_in_scope(self, tenant_id: uuid.UUID, *, what: str = "object",
                         field: Sequence[str] | None = ("id",)) -> None:
        """For work that names its tenant before it reads anything (an idempotency claim,
        a counter, a timer): another tenant's id is *not found*, as a read would say."""
        if not self.scope.allows(tenant_id):
            raise NotFound(f"{what} not found", field=field)

    # -- writes --------------------------------------------------------------------------------

    def add(self, row: M) -> M:
        """Stage a new or changed row; it must belong to a tenant in scope."""
        if not self.scope.allows(getattr(row, self.tenant_column)):
            raise NotFound(f"{self.model.__name__} not found")
        self.uow._add(row)
        return row


def scoped_to(stmt: S, tenant_column: Any, scope: TenantScope) -> S:
    """``stmt`` filtered to the scope on ``tenant_column`` and marked as scoped: for a
    repository module's statement that is built before a unit of work exists (a plan
    to check). Everything else goes through :class:`TenantRepository`."""
    if scope.tenant_ids is not None:
        stmt = stmt.where(tenant_column.in_(sorted(scope.tenant_ids)))  # type: ignore[assignment]
    return stmt.execution_options(**{SCOPED_OPTION: True})  # type: ignore[return-value]


# -- the guards -------------------------------------------------------------------------------


def _check_statement(state: ORMExecuteState) -> None:
    if state.execution_options.get(SCOPED_OPTION):
        return
    if not (state.is_select or state.is_update or state.is_delete):
        return
    statement: Any = state.statement
    touched = {t.name for t in find_tables(statement, include_crud=True,
                                           include_joins=True, include_aliases=True)
               if hasattr(t, "name")}
    unscoped = touched & tenant_tables().keys()
    if unscoped:
        raise UnscopedQuery(
            f"a statement on {sorted(unscoped)} did not go through a TenantRepository")


def _check_flush(session: Session, _context: Any, _instances: Any) -> None:
    scope = session.info.get("qrefund.scope")
    if scope is None:
        return
    if scope.tenant_ids is None:
        _check_frozen(scope, (*session.new, *session.dirty, *session.deleted))
        return
    for row in (*session.new, *session.dirty, *session.deleted):
        table = getattr(row, "__tablename__", "")
        column = tenant_tables().get(table)
        if column is None or scope.allows(getattr(row, column, None)):
            continue
        if table == "tenants" and scope.allows(getattr(row, "parent_id", None)):
            continue  # a new tenant belongs to its parent's scope (an agency's merchant)
        raise UnscopedQuery(f"a {type(row).__name__} of a tenant outside the scope "
                            "would be written")
    _check_frozen(scope, (*session.new, *session.dirty, *session.deleted))


def _check_frozen(scope: Any, rows: Sequence[Any]) -> None:
    """No row of a suspended or closed merchant is written in a caller's unit. Every
    state change writes its outbox event in the same unit, so this one check stops
    every write path (API, receipt page, bulk calls) at the flush."""
    if not scope.frozen_tenant_ids:
        return
    for row in rows:
        table = getattr(row, "__tablename__", "")
        column = tenant_tables().get(table)
        if column is not None:
            check_frozen_rows(scope, table, [getattr(row, column, None)])


def install_guards() -> None:
    """Register the guards on every ORM session of the process (idempotent)."""
    if not event.contains(Session, "do_orm_execute", _check_statement):
        event.listen(Session, "do_orm_execute", _check_statement)
        event.listen(Session, "before_flush", _check_flush)
