"""Kept one-row statements run on psycopg itself, past SQLAlchemy's execution layer.

A one-row statement a repository keeps from one request to the next (an event, a
timeline row, an idempotency claim, a counter, a row's changed columns, a row read
by key) still costs, through SQLAlchemy's async execution, about 0.25 ms of CPU:
parameters processed and checked, an execution context, the result wrapped, and two
greenlet switches per call. psycopg alone runs the same text in about 0.12 ms (bench
machine, 400 inserts in one unit). Here the statement is compiled once for the unit's
dialect (its text, the defaults of its literal parameters, and the bind processors of
its types, which turn a dict into JSON text or a datetime into UTC as SQLAlchemy
would), and run on the unit's own psycopg connection, inside its transaction.

What SQLAlchemy would have done around it is kept: the engine's
``before_cursor_execute`` / ``after_cursor_execute`` listeners run (statement counts
in tests, per-request SQL figures, tracing), and a driver error is raised as
SQLAlchemy's own, by SQLAlchemy's own handler (``IntegrityError``,
``OperationalError``...; a dead connection invalidated with the pool's older ones), so
callers and the retries of a unit see what they always saw.

Only statements whose form is plain fit: named parameters, none expanding or
rendered at execution. The columns they give back are converted as SQLAlchemy would
(each type's result processor). Any other statement (and SQLite) runs through
SQLAlchemy as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from psycopg import errors as pg_errors
from psycopg.generators import execute as exchanged
from psycopg.pq import ExecStatus
from psycopg.rows import namedtuple_row
from sqlalchemy import exc

_MAX_FORMS = 512


@dataclass(frozen=True)
class DriverForm:
    """A statement as psycopg runs it."""

    text: str
    defaults: dict[str, Any]  # the literal values the statement carries (``LIMIT 1``)
    processors: dict[str, Callable[[Any], Any]]
    # Per result column, what SQLAlchemy does to the driver's value (an instant made
    # UTC-aware), or None when nothing; empty when no column needs anything.
    results: tuple[Callable[[Any], Any] | None, ...] = ()

    def rows(self, fetched: list[Any]) -> list[tuple[Any, ...]]:
        if not self.results:
            return fetched  # psycopg's rows are tuples already (or named ones)
        return [tuple(v if p is None else p(v) for p, v in zip(self.results, r, strict=True))
                for r in fetched]

    def parameters(self, values: Mapping[str, Any]) -> dict[str, Any]:
        params = {**self.defaults, **values}
        for name, process in self.processors.items():
            params[name] = process(params[name])
        return params


@dataclass(frozen=True)
class KeptResult:
    """What a statement run here gives back: its rows (tuples, named ones when asked)
    and how many rows it touched, read as a SQLAlchemy result's are."""

    rows: list[tuple[Any, ...]]
    rowcount: int

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.rows)

    def all(self) -> list[tuple[Any, ...]]:
        return self.rows

    def one(self) -> tuple[Any, ...]:
        if len(self.rows) != 1:
            raise exc.NoResultFound("expected one row") if not self.rows else \
                exc.MultipleResultsFound("expected one row")
        return self.rows[0]

    def scalars(self) -> list[Any]:
        return [row[0] for row in self.rows]

    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows else None

    def scalar_one(self) -> Any:
        return self.one()[0]


_forms: dict[tuple[int, int], tuple[Any, DriverForm | None]] = {}


def driver_form(stmt: Any, dialect: Any) -> DriverForm | None:
    """``stmt`` compiled for psycopg once (per statement object and dialect: callers keep
    the object), or None when it does not fit (see the module's docstring)."""
    key = (id(stmt), id(dialect))
    found = _forms.get(key)
    if found is not None and found[0] is stmt:  # the id of a statement still alive
        return found[1]
    form = _compile(stmt, dialect)
    if len(_forms) >= _MAX_FORMS:
        _forms.clear()
    _forms[key] = (stmt, form)
    return form


def _compile(stmt: Any, dialect: Any) -> DriverForm | None:
    if dialect.driver != "psycopg" or dialect.paramstyle != "pyformat":
        return None
    compiled = stmt.compile(dialect=dialect)
    text = compiled.string
    binds = compiled.bind_names  # parameter object -> its name in the text
    if compiled.positiontup or compiled.escaped_bind_names or "POSTCOMPILE" in text \
            or any(b.expanding or b.literal_execute for b in binds):
        return None
    # The columns a SELECT or a RETURNING gives back, converted as SQLAlchemy would.
    results = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None)
                    for column in getattr(stmt, "exported_columns", ()))
    processors = {}
    for bind, name in binds.items():
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors[name] = process
    defaults = {name: bind.effective_value for bind, name in binds.items()
                if not bind.required}
    return DriverForm(text, defaults, processors,
                      results if any(p is not None for p in results) else ())


@lru_cache(maxsize=_MAX_FORMS)  # bounded: the texts come from shapes a document names
def text_form(sql: str) -> DriverForm:
    """SQL text already written for psycopg (``%(name)s`` parameters), run as it is."""
    return DriverForm(sql, {}, {})


def _raise_handled(sync_connection: Any, error: BaseException, statement: str,
                   params: Any) -> None:
    sync_connection._handle_dbapi_exception(error, statement, params, None, None)


class _Context:
    """Stands for SQLAlchemy's execution context in the listeners' calls (tracing
    keeps its span on it)."""

    executemany = False


async def _listened(connection: Any, driver: Any, statement: str, params: Any,
                    send: Callable[[Any, str, Any], Any]) -> Any:
    """``send(cursor, statement, params)`` with what SQLAlchemy does around a statement
    it runs: the engine's cursor listeners, and a driver error raised as its own."""
    sync = connection.sync_connection
    context = _Context()
    cursor = driver.cursor()
    for listener in sync.dispatch.before_cursor_execute:
        statement, params = listener(sync, cursor, statement, params, context, False)
    try:
        found = await send(cursor, statement, params)
    except connection.dialect.loaded_dbapi.Error as error:
        # SQLAlchemy's own handling, as for a statement it ran: the error wrapped as its
        # own class, handle_error listeners, and for a dead connection the connection
        # invalidated and every pooled connection older than it recycled at checkout
        # (a restarted server leaves them all dead; the unit's start retries once).
        await connection.run_sync(_raise_handled, error, statement, params)
        raise  # not reached: the handler raises
    finally:
        await cursor.close()
    for listener in sync.dispatch.after_cursor_execute:
        listener(sync, cursor, statement, params, context, False)
    return found


async def begin_with(connection: Any, driver: Any, commands: str) -> None:
    """``commands`` (no parameters; ``BEGIN`` first) as one simple-protocol message on
    ``driver``, a psycopg connection with no transaction open: the transaction is then
    open, so psycopg sends no BEGIN of its own before the next statement, and ends it
    on commit or rollback as ever (:mod:`qrefund.platform.scope_statement`). psycopg's
    cursors would send BEGIN first; its own commands take one statement each."""

    async def send(_cursor: Any, statement: str, _params: Any) -> None:
        async with driver.lock:
            driver.pgconn.send_query(statement.encode(driver.info.encoding))
            results = await driver.wait(exchanged(driver.pgconn))
        for result in results:
            if result.status == ExecStatus.FATAL_ERROR:
                raise pg_errors.error_from_result(result, encoding=driver.info.encoding)

    await _listened(connection, driver, commands, {}, send)


async def run(connection: Any, driver: Any, form: DriverForm, values: Mapping[str, Any],
              *, named: bool = False) -> KeptResult:
    """Run ``form`` on ``driver``, the psycopg connection under SQLAlchemy's
    ``connection`` (an ``AsyncConnection`` inside the unit's transaction); ``named``:
    rows whose columns are attributes too (``row.node``)."""
    params = form.parameters(values)

    async def send(cursor: Any, statement: str, params: Any) -> KeptResult:
        if named:
            cursor.row_factory = namedtuple_row
        await cursor.execute(statement, params)
        rows = await cursor.fetchall() if cursor.description is not None else []
        return KeptResult(form.rows(rows), cursor.rowcount)

    result: KeptResult = await _listened(connection, driver, form.text, params, send)
    return result
