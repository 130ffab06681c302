"""Capture every SQL statement a block of test code sends, and check that each one
names the ``tenant_id`` of every tenant table it touches (what Citus needs to route a
statement to one shard and to join co-located tables there).

Statements are parsed with sqlglot; a table counts as filtered when a predicate of the
statement that holds it (``WHERE``, a join's ``ON``) names that table's ``tenant_id``
(qualified by its alias, or unqualified when it is the only table there), and an
``INSERT`` into a tenant table must list ``tenant_id``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlglot import exp

_PARAM = re.compile(r"%\((\w+)\)s|\?")
_SCOPED = (exp.Select, exp.Update, exp.Delete)
# Transaction control and connection set-up name no table.
_CONTROL = re.compile(r"\s*(SAVEPOINT|RELEASE|ROLLBACK|BEGIN|COMMIT|PRAGMA|SET )", re.I)


@dataclass
class Statement:
    sql: str
    all_tenants: bool  # the unit's scope was every tenant (operator, job sweeps)


@dataclass
class Capture:
    statements: list[Statement] = field(default_factory=list)


@contextmanager
def capture_sql(*engines: Engine) -> Iterator[Capture]:
    """Record the statements sent on ``engines`` with the scope of the unit that sent
    them (read from the ORM session bound to the connection)."""
    captured = Capture()
    sessions: dict[int, Session] = {}

    def _begin(session: Session, _transaction: Any, connection: Any) -> None:
        sessions[id(connection.connection.dbapi_connection)] = session

    def _before(conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        session = sessions.get(id(conn.connection.dbapi_connection))
        scope = session.info.get("qrefund.scope") if session is not None else None
        captured.statements.append(
            Statement(sql, all_tenants=scope is None or scope.tenant_ids is None))

    event.listen(Session, "after_begin", _begin)
    for engine in engines:
        event.listen(engine, "before_cursor_execute", _before)
    try:
        yield captured
    finally:
        event.remove(Session, "after_begin", _begin)
        for engine in engines:
            event.remove(engine, "before_cursor_execute", _before)


def unfiltered(sql: str, tenant_tables: set[str], dialect: str) -> list[str]:
    """The tenant tables ``sql`` touches without naming their tenant_id (empty: none)."""
    if _CONTROL.match(sql):
        return []
    parsed = sqlglot.parse(_PARAM.sub(":p", sql), read=dialect)
    missing: list[str] = []
    for statement in parsed:
        if statement is None:
            continue
        missing += _insert_problems(statement, tenant_tables)
        for table in statement.find_all(exp.Table):
            if table.name in tenant_tables and not _filtered(table, statement):
                missing.append(table.name)
    return missing


def _insert_problems(statement: exp.Expression, tenant_tables: set[str]) -> list[str]:
    found = []
    for insert in statement.find_all(exp.Insert):
        target = insert.this
        table = target.this if isinstance(target, exp.Schema) else target
        if not isinstance(table, exp.Table) or table.name not in tenant_tables:
            continue
        columns = [c.name for c in target.expressions] if isinstance(target, exp.Schema) else []
        if "tenant_id" not in columns:
            found.append(f"{table.name} (insert without tenant_id)")
    return found


def _filtered(table: exp.Table, statement: exp.Expression) -> bool:
    owner = table.find_ancestor(*_SCOPED)
    if owner is None:
        # An INSERT's target: checked by _insert_problems.
        return table.find_ancestor(exp.Insert) is not None
    alias = table.alias_or_name
    sources = [t for t in owner.find_all(exp.Table) if t.find_ancestor(*_SCOPED) is owner]
    for predicate in _predicates(owner):
        for column in predicate.find_all(exp.Column):
            if column.name != "tenant_id":
                continue
            if column.table == alias or (not column.table and len(sources) == 1):
                return True
    return False


def _predicates(owner: exp.Expression) -> Iterator[exp.Expression]:
    where = owner.args.get("where")
    if where is not None:
        yield where
    for join in owner.args.get("joins") or []:
        on = join.args.get("on")
        if on is not None:
            yield on
