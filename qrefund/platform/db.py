"""The database of a process and the unit of work (docs/architecture.md); the
engines themselves are built in :mod:`qrefund.platform.engines`.

* One :class:`UnitOfWork` per request or job: services never commit; leaving the
  ``async with`` block commits, an exception rolls back.
* Every transaction starts by publishing the caller's :class:`TenantScope` to
  PostgreSQL (``set_config(..., true)``, so it dies with the transaction); the
  row-level-security policies read it. The API acts as ``QREFUND_DB_APP_ROLE``,
  which owns nothing and cannot bypass RLS.
* SQLite (the embedded default) has no RLS and one writer at a time: write units
  start with ``BEGIN IMMEDIATE`` so two writers queue instead of failing halfway.
* Side effects run only after commit, through :meth:`UnitOfWork.after_commit`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncSession,
    AsyncTransaction,
    async_sessionmaker,
)
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.orm.util import identity_key

from qrefund.observability import tracing
from qrefund.platform import driver, scope_statement
from qrefund.platform.config import Settings
from qrefund.platform.driver import KeptResult, driver_form
from qrefund.platform.engines import async_url, postgres_engine, sqlite_engine, sync_url
from qrefund.platform.read_connections import ReadConnections
from qrefund.platform.repository import install_guards
from qrefund.platform.scope import TenantScope

log = logging.getLogger(__name__)

__all__ = ["Database", "UnitOfWork", "async_url", "on_events_committed", "sync_url"]

# Longest a read unit's connection is kept out of the pool (read_connections.py).
_HOLD_SECONDS = 60.0

AfterCommit = Callable[[], Awaitable[None]]
EventsCommitted = Callable[[list[Any]], Awaitable[None]]

# Listeners told, after commit, which outbox events a unit wrote (the job runtime
# registers the outbox relay's nudge here; see qrefund.jobs.relay).
_events_committed: list[EventsCommitted] = []


def on_events_committed(listener: EventsCommitted) -> None:
    """Call ``listener(events)`` after every unit of work that wrote events commits."""
    if listener not in _events_committed:
        _events_committed.append(listener)


def remove_events_listener(listener: EventsCommitted) -> None:
    if listener in _events_committed:
        _events_committed.remove(listener)


class Database:
    """Engines for one process (an API process or one worker)."""

    def __init__(self, settings: Settings, *, pooled: bool = True) -> None:
        # Statements on tenant tables that bypass a repository, and flushes of rows of
        # tenants outside a unit's scope, raise (platform/repository.py).
        install_guards()
        self.settings = settings
        url = async_url(settings.database_url)
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.write_engine = sqlite_engine(url, immediate=True)
            self.read_engine = sqlite_engine(url, immediate=False)
        else:
            self.write_engine = postgres_engine(url, settings, pooled=pooled)
            self.read_engine = self.write_engine
        # Read units' connections, kept from one unit to the next (read_connections.py).
        self.read_connections = ReadConnections(
            self.read_engine, keep=settings.db_pool_size,
            hold_seconds=min(_HOLD_SECONDS, settings.db_pool_recycle_seconds / 2),
            max_overflow=settings.db_pool_overflow)
        # Behind a transaction-mode pooler the role is set in every transaction.
        self._unit_role = (settings.db_app_role or None) if settings.db_transaction_pooler \
            else None
        tracing.instrument_engines([self.write_engine, self.read_engine])  # when tracing is on
        self._write_sessions = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self._read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False)

    def unit_of_work(
        self, scope: TenantScope, *, readonly: bool = False, snapshot: bool = False,
        generic_plans: bool = False,
    ) -> AbstractAsyncContextManager[UnitOfWork]:
        """``snapshot``: every read of the unit sees the database as of its first one
        (REPEATABLE READ on PostgreSQL; a SQLite read transaction already does), for a
        backup whose tables must agree with each other.

        ``generic_plans`` (a read-only unit on PostgreSQL): the statements psycopg has
        prepared run on the plan PostgreSQL made once for them, not on one made anew
        for each execution (``plan_cache_mode``, set with the scope: no round trip).
        PostgreSQL's own choice keeps re-planning a page's statement, since it prices
        a generic ``LIMIT $n`` at a tenth of the table: measured on the bench set,
        a 50-case page cost the server 2.4 ms of CPU per execution against 1.6 ms on
        its generic plan, a 50-payment page 1.0 against 0.65. For statements whose
        plan does not depend on the values: pages and nodes, which lead with the
        tenant and an index order."""
        if readonly and not snapshot and not self.is_sqlite:
            return self._read_unit(scope, generic_plans)
        return self._session_unit(scope, readonly=readonly, snapshot=snapshot)

    @asynccontextmanager
    async def _session_unit(self, scope: TenantScope, *, readonly: bool, snapshot: bool
                            ) -> AsyncIterator[UnitOfWork]:
        """A unit on an ORM session: every write, a snapshot, and SQLite's reads."""
        maker = self._read_sessions if readonly else self._write_sessions
        async with maker() as session:
            uow = UnitOfWork(session, scope, is_sqlite=self.is_sqlite, role=self._unit_role)
            try:
                await self._begin(session, uow, snapshot=snapshot)
                yield uow
                if readonly:
                    await uow.end_read()
                else:
                    await session.commit()
            except BaseException:
                await session.rollback()
                raise
        await uow.run_after_commit()

    @asynccontextmanager
    async def _read_unit(self, scope: TenantScope, generic_plans: bool = False
                         ) -> AsyncIterator[UnitOfWork]:
        """A read-only unit on PostgreSQL that starts on a bare connection: BEGIN, the
        scope, and what the unit runs past the ORM (rendered reads) never build a
        session; the first ORM read binds one to the connection (UnitOfWork._session).
        Measured alone (BEGIN, scope, one statement, COMMIT): 0.64 ms of CPU against
        1.05 ms with a session.

        Nor does SQLAlchemy begin a transaction of its own on the connection: psycopg
        opens one with the unit's first statement (the scope, on the driver), and the
        unit commits it there (``end_read``), so a unit that reads past the ORM makes
        three greenlet switches fewer (begin, the driver connection, commit). A
        session bound later begins SQLAlchemy's transaction itself, as on any
        connection; whatever is left open when the connection goes back to the pool,
        its reset rolls back. A connection that ends clean serves the next read unit
        without going through the pool (:mod:`qrefund.platform.read_connections`)."""
        lent = await self.read_connections.take()
        connection = lent.connection
        try:
            uow = UnitOfWork(None, scope, is_sqlite=False, role=self._unit_role,
                             connection=connection, sessions=self._read_sessions,
                             generic_plans=generic_plans)
            try:
                await self._begin_connection(connection, uow)
                yield uow
                await uow.end_read()
            except BaseException:
                await uow.rollback()
                raise
            finally:
                await uow.close_session()
        finally:
            await self.read_connections.give_back(lent)
        await uow.run_after_commit()

    async def _begin_connection(self, connection: AsyncConnection, uow: UnitOfWork) -> None:
        """:meth:`_begin` for a unit that starts on a bare connection (psycopg begins
        its transaction with the scope; see :meth:`_read_unit`)."""

        async def begin() -> None:
            return None

        await _begin_retrying(begin, connection.rollback, uow)

    async def _begin(self, session: AsyncSession, uow: UnitOfWork, *, snapshot: bool) -> None:
        await _begin_retrying(lambda: self._open(session, snapshot), session.rollback, uow)

    async def _open(self, session: AsyncSession, snapshot: bool) -> None:
        if snapshot and not self.is_sqlite:
            await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        else:
            await session.begin()

    async def ping(self) -> None:
        async with self.read_engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.read_connections.close()
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()


async def _begin_retrying(begin: Callable[[], Awaitable[None]],
                          rollback: Callable[[], Awaitable[None]], uow: UnitOfWork) -> None:
    """BEGIN and the scope; a pooled connection found dead here (the server restarted,
    a proxy dropped it) is replaced once, since nothing has happened in the unit yet."""
    try:
        await begin()
        await uow.apply_scope()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        log.warning("database connection was dead at checkout; retrying on a new one")
        await rollback()
        await begin()
        await uow.apply_scope()


@event.listens_for(Session, "after_flush")
def _note_flush(session: Session, _context: Any) -> None:
    session.info["qrefund.flushed"] = True


def _wrote(session: AsyncSession) -> bool:
    """Did the unit flush, or does it hold changes it would flush on commit?"""
    sync = session.sync_session
    return bool(sync.info.get("qrefund.flushed") or sync.new or sync.deleted
                or sync.identity_map.check_modified())


class UnitOfWork:
    def __init__(self, session: AsyncSession | None, scope: TenantScope, *, is_sqlite: bool,
                 role: str | None = None, connection: AsyncConnection | None = None,
                 sessions: async_sessionmaker[AsyncSession] | None = None,
                 generic_plans: bool = False) -> None:
        # Private: services reach tables through repositories (platform/repository.py),
        # which alone run statements here; the guards check that they did. A unit is
        # given its session, or a connection in a transaction and the maker of the
        # session that joins it when the unit first needs one (Database._read_unit).
        self._orm = session
        self._connection = connection
        self._sessions = sessions
        self._info: dict[Any, Any] = session.info if session is not None else {}
        self.scope = scope  # also published to the session, for the flush guard
        self.is_sqlite = is_sqlite
        self._role = role  # set per transaction (transaction-mode pooler), else None
        self.generic_plans = generic_plans  # Database.unit_of_work's; plan_generically
        self._after_commit: list[AfterCommit] = []
        self.events: list[Any] = []
        # The session's connection and its psycopg connection, for the transaction they
        # belong to (asking the session each time costs a greenlet switch and ~40 µs).
        self._bound: tuple[Any, AsyncConnection, Any] | None = None

    @property
    def scope(self) -> TenantScope:
        return self._scope

    @scope.setter
    def scope(self, scope: TenantScope) -> None:
        # The auth layer narrows the look-up unit to the caller's scope (then re-applies it).
        self._scope = scope
        self._info["qrefund.scope"] = scope

    @property
    def _session(self) -> AsyncSession:
        if self._orm is None:
            assert self._sessions is not None and self._connection is not None
            # On the unit's connection, so in psycopg's transaction: the session begins
            # SQLAlchemy's on it (joins it, had anything begun one); the unit ends it
            # (end_read, rollback).
            session = self._sessions(bind=self._connection,
                                     join_transaction_mode="rollback_only")
            session.info.update(self._info)
            self._orm, self._info = session, session.info
        return self._orm

    async def end_read(self) -> None:
        """End a read-only unit: COMMIT when it is clean, since psycopg forgets its
        prepared statements on ROLLBACK (reads would never be prepared); ROLLBACK when it
        changed something (a read-only unit keeps nothing) or its transaction already
        failed."""
        transaction: AsyncTransaction | SessionTransaction | None
        if self._connection is not None and not self._connection.in_transaction():
            # Nothing went through SQLAlchemy (Database._read_unit): end on psycopg;
            # a session that only staged changes (never flushed) rolls back.
            await self._end_on_driver(
                commit=self._orm is None or not _wrote(self._orm))
            return
        if self._connection is not None:  # started on a bare connection
            transaction, commit = self._connection.get_transaction(), self._connection.commit
        else:
            assert self._orm is not None
            transaction, commit = self._orm.sync_session.get_transaction(), self._orm.commit
        if (self._orm is not None and _wrote(self._orm)) or (
                transaction is not None and not transaction.is_active):
            await self.rollback()
            return
        try:
            await commit()
        except SQLAlchemyError:  # nothing was written: what was read stands
            log.debug("read-only unit could not commit; rolled back", exc_info=True)
            await self.rollback()

    async def _end_on_driver(self, *, commit: bool) -> None:
        """COMMIT (ROLLBACK when asked or when it failed) the transaction psycopg opened
        on a bare read unit's connection, on psycopg itself."""
        raw = self._live_driver()
        if raw is None or raw.info.transaction_status == TransactionStatus.IDLE:
            return  # nothing open, or a dead connection: the pool's reset deals with it
        try:
            if commit and raw.info.transaction_status == TransactionStatus.INTRANS:
                await raw.commit()
            else:
                await raw.rollback()
        except psycopg.Error:  # nothing was written: what was read stands
            log.debug("read-only unit could not end on the driver", exc_info=True)

    def _live_driver(self) -> Any:
        """The psycopg connection under a bare unit's connection while that is live
        (read without a greenlet switch), else None."""
        sync = self._connection.sync_connection if self._connection is not None else None
        if sync is None or sync.invalidated or sync.closed:
            return None
        return sync.connection.driver_connection

    async def rollback(self) -> None:
        if self._orm is not None:
            await self._orm.rollback()
        if self._connection is not None:
            if self._connection.in_transaction():
                await self._connection.rollback()
            else:  # psycopg's own (Database._read_unit)
                await self._end_on_driver(commit=False)

    async def close_session(self) -> None:
        if self._orm is not None and self._connection is not None:
            await self._orm.close()

    # -- what services may do with the session (reads and writes go through repositories)

    def savepoint(self) -> Any:
        """``async with uow.savepoint():`` a nested transaction (rolled back alone)."""
        return self._session.begin_nested()

    async def flush(self) -> None:
        await self._session.flush()

    def no_autoflush(self) -> Any:
        """``with uow.no_autoflush():`` batch changes without intermediate flushes."""
        return self._session.no_autoflush

    def expire(self, row: Any) -> None:
        """Forget a row's loaded values (the next read reloads them)."""
        self._session.expire(row)

    def expunge(self, row: Any) -> None:
        """Detach a row from the unit (a snapshot that outlives it keeps its values)."""
        self._session.expunge(row)

    def cached(self, model: type[Any], key: tuple[Any, ...]) -> Any:
        """The row of this primary key already in the unit, if any (no query)."""
        if self._orm is None and self._connection is not None:
            return None  # no session yet: nothing loaded
        return self._session.identity_map.get(identity_key(model, key))

    @property
    def info(self) -> dict[Any, Any]:
        """Per-unit scratch space (e.g. reserved sequence numbers)."""
        return self._info

    async def _execute(self, stmt: Any, params: Any = None) -> Any:
        """For repositories only (they add the scope filter): run a statement."""
        return await self._session.execute(stmt, params)

    async def _execute_rows(self, stmt: Any, params: Any = None) -> Any:
        """For repositories only: run a Core statement (plain columns selected, rows
        inserted) on the unit's connection, past the ORM's execution layer (no ORM entity
        is loaded, so it has nothing to do; about 0.2 ms less per statement). Pending
        changes are flushed first, as the session would (a row's foreign keys may point
        at them)."""
        connection = await self._flushed_connection()
        return await connection.execute(stmt, params)

    async def _execute_kept(self, stmt: Any, params: Mapping[str, Any]) -> KeptResult:
        """For repositories only: a statement they keep from one call to the next (the
        same object each time: a write, a row by key, a kept read), run on psycopg when
        it fits (:mod:`qrefund.platform.driver`), else as :meth:`_execute_rows` would.
        Pending changes are flushed first."""
        connection = await self._flushed_connection()
        form = None if self.is_sqlite else driver_form(stmt, connection.dialect)
        if form is not None:
            return await driver.run(connection, self._bound_raw(connection), form, params)
        result = await connection.execute(stmt, dict(params))
        return KeptResult(list(result.all()) if result.returns_rows else [], result.rowcount)

    async def _execute_sql(self, sql: str, params: Mapping[str, Any]) -> KeptResult:
        """For repositories only: SQL text compiled once from a repository's own scoped
        statement (:mod:`qrefund.platform.statements`), on the unit's connection, the
        values bound by the driver. Pending changes are flushed first. Run on psycopg
        itself (:mod:`qrefund.platform.driver`); its rows are named (``row.node``)."""
        connection = await self._flushed_connection()
        return await driver.run(connection, self._bound_raw(connection),
                                driver.text_form(sql), params, named=True)

    async def _flushed_connection(self) -> Any:
        """The unit's connection, pending changes flushed first (a row read or written
        past the session may refer to them)."""
        if self._orm is None and self._connection is not None:
            return (await self._bound_connection())[0]  # no session yet: nothing pending
        session = self._session.sync_session
        if session.new or session.dirty or session.deleted:
            await self._session.flush()
        return (await self._bound_connection())[0]

    async def _bound_connection(self) -> tuple[AsyncConnection, Any]:
        """The connection of the unit's transaction and the psycopg (or sqlite3)
        connection under it, kept while that transaction lasts."""
        if self._orm is None and self._connection is not None:
            connection = self._connection
            raw = self._live_driver()
            if raw is not None:  # a bare read unit (no SQLAlchemy transaction)
                self._bound = (None, connection, raw)
                return connection, raw
            transaction: Any = connection.get_transaction()
        else:
            transaction = self._session.sync_session.get_transaction()
            if self._bound is not None and self._bound[0] is transaction \
                    and transaction is not None:
                return self._bound[1], self._bound[2]
            connection = await self._session.connection()
            transaction = self._session.sync_session.get_transaction()
        bound = self._bound
        if bound is not None and bound[0] is transaction and transaction is not None \
                and bound[1] is connection:
            return connection, bound[2]
        # A new transaction may sit on a new driver connection (a dead one is replaced
        # under the same Connection object): asked again.
        raw = (await connection.get_raw_connection()).driver_connection
        self._bound = (transaction, connection, raw)
        return connection, raw

    def _bound_raw(self, connection: AsyncConnection) -> Any:
        """The driver's connection under ``connection`` (just bound by
        :meth:`_flushed_connection`)."""
        assert self._bound is not None and self._bound[1] is connection
        return self._bound[2]

    def _add(self, row: Any) -> None:
        """For repositories only (they check the row's tenant): stage a row."""
        self._session.add(row)

    def _in_savepoint(self) -> bool:
        """For repositories only: is a savepoint open (rows written past the flush are
        then written the ORM's way, see ``TenantRepository.write_changes``)?"""
        return self._orm is not None and self._orm.in_nested_transaction()

    def _identity_map(self) -> Any:
        """For repositories only: the rows the unit holds (a row written past the flush
        is marked as written in it)."""
        return self._session.sync_session.identity_map

    def note_event(self, event: Any) -> None:
        """Remember events written here so the relay can be woken after commit."""
        if not self.events and _events_committed:
            self.after_commit(self._announce_events)
        self.events.append(event)

    async def _announce_events(self) -> None:
        for listener in list(_events_committed):
            await listener(list(self.events))

    async def apply_scope(self) -> None:
        """The unit's scope on its transaction, with the BEGIN when it opens one
        (:mod:`qrefund.platform.scope_statement`)."""
        if self.is_sqlite:
            return
        ids, all_flag = self.scope.rls_setting()
        # Straight to psycopg: SQLAlchemy's execution layer (even exec_driver_sql's)
        # costs more than the round trip itself.
        connection, raw = await self._bound_connection()
        await scope_statement.apply(connection, raw, ids, all_flag, self._role,
                                    self.generic_plans)

    async def plan_generically(self, generic: bool) -> None:
        """Switch a read unit's ``generic_plans`` (Database.unit_of_work) for the rest of
        its transaction: one round trip, only when it changes. Off is PostgreSQL's
        default, ``auto``."""
        if generic == self.generic_plans:
            return
        self.generic_plans = generic
        if not self.is_sqlite:
            await self._execute_sql("SELECT set_config('plan_cache_mode', %(mode)s, true)",
                                    {"mode": scope_statement.GENERIC_PLANS if generic else "auto"})

    def after_commit(self, callback: AfterCommit) -> None:
        """Run ``callback`` once the transaction has committed (never on rollback)."""
        self._after_commit.append(callback)

    async def run_after_commit(self) -> None:
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            try:
                await callback()
            except Exception:  # the outbox relay will pick the work up later
                log.exception("after-commit hook failed")
