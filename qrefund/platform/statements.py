"""Statements compiled to SQL text once per shape, then run on the driver.

A statement built with SQLAlchemy costs, on every request, its construction (a few
hundred expression objects for a scoped select with two joins), the cache key
SQLAlchemy derives from it to find its compiled form, and the ORM's execution layer.
For one case by id that is about 0.7 ms of CPU where the statement itself waits on
PostgreSQL for a tenth of that. A statement whose *shape* repeats (the same tables,
joins and selected expression; only values change) is built here once with its
values as named parameters, compiled for psycopg, kept as text, and run with
``exec_driver_sql``: psycopg binds the values (server-side) and prepares the text
once it has seen it a few times.

Only repositories build these statements, from their own scoped selects
(:meth:`qrefund.platform.repository.TenantRepository.in_scope` with ``parameter``
set: the scope is a parameter, so one text serves every merchant, and one more every
agency: :func:`scope_shape`); the cache is keyed by the shape the repository names,
never by a value a request sends.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Hashable
from typing import Any

from sqlalchemy import ColumnElement, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.sql import Executable

# The names of the parameters repositories give their compiled statements.
SCOPE = "qrefund_scope"  # the scope's tenant: its id, or its ids (an array), unless all
# Set on every statement a repository builds; the guard lets only these through
# (qrefund.platform.repository).
SCOPED_OPTION = "qrefund_scoped"

_DIALECT = PGDialect_psycopg()
# One entry per (repository, shape) a process uses; bounded so that shapes made from
# client documents (a rendered node's selection) can't grow it without end.
_MAX_SHAPES = 512
_compiled: dict[Hashable, str] = {}


def compiled(shape: Hashable, build: Callable[[], Executable]) -> str:
    """The SQL text of the statement ``build`` makes for ``shape``, compiled once."""
    found = _compiled.get(shape)
    if found is None:
        if len(_compiled) >= _MAX_SHAPES:
            _compiled.clear()
        found = _compiled[shape] = str(build().compile(dialect=_DIALECT))  # type: ignore[attr-defined]
    return found


# Statements (not text) kept per shape: see kept(). Bounded as _compiled is.
_kept: dict[Hashable, Any] = {}


def kept(shape: Hashable, build: Callable[[], Any]) -> Any:
    """The statement ``build`` makes for ``shape``, built once and then reused as it is.

    For statements SQLAlchemy still runs (ORM entities loaded, both dialects), where
    :func:`compiled`'s text can't go: a statement object kept from one call to the next
    saves its construction and its cache key, which SQLAlchemy derives on every
    execution of a new object and memoises on one it has seen (a locked case read by
    key: 1.2-1.36 ms of CPU built per call, 0.79-0.80 ms kept, on the bench machine).
    Its values must be named parameters, the scope among them (``SCOPE``, expanding:
    the scope's ids; see ``TenantRepository.kept``)."""
    found = _kept.get(shape)
    if found is None:
        if len(_kept) >= _MAX_SHAPES:
            _kept.clear()
        found = _kept[shape] = build()
    return found


def scope_shape(tenant_ids: frozenset[Any] | None) -> str:
    """What a scope condition looks like, for the shape of a compiled statement: none
    (every tenant), ``tenant = :scope`` (one) or ``tenant = ANY(:scope)`` (several).

    One tenant must be an equality: PostgreSQL (before 17) reads an index in order only
    for an equality on its leading column, so ``= ANY(array)``, even of one id, reads
    every row of the merchant and sorts them to find a page (3.2 ms against 0.05 ms for
    a merchant with 2,925 payments, growing with the merchant)."""
    if tenant_ids is None:
        return "all"
    return "one" if len(tenant_ids) == 1 else "many"


def scope_parameters(tenant_ids: frozenset[Any] | None) -> dict[str, Any]:
    """The scope's parameter for a statement whose scope condition is a parameter."""
    if tenant_ids is None:
        return {}
    return {SCOPE: next(iter(tenant_ids)) if len(tenant_ids) == 1 else sorted(tenant_ids)}


# A filter's comparison by its name in a repository's filter table; "in" takes a list.
_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq, ">=": operator.ge, "<=": operator.le, "<": operator.lt,
    ">": operator.gt}


def condition(column: Any, op: str, value: Any = None, *, parameter: str | None = None
              ) -> ColumnElement[bool]:
    """``column <op> value``; with ``parameter``, the value is that named parameter
    instead (a list one is an array: ``column = ANY(:parameter)``), for a statement
    compiled once whatever the values."""
    if op == "in":
        if parameter is None:
            return column.in_(value)  # type: ignore[no-any-return]
        return column == any_(bindparam(parameter, type_=ARRAY(column.type)))  # type: ignore[no-any-return]
    operand = value if parameter is None else bindparam(parameter, type_=column.type)
    return _OPERATORS[op](column, operand)  # type: ignore[no-any-return]
