"""Pieces of statements repositories share: keyset bounds, key lists, inserts (plain
ones, and one drawing a tenant's counter).

Only repositories use them (:mod:`qrefund.platform.repository` and the domain
repositories built on it); they hold no scope of their own: the repository that uses
one adds the scope's condition, or checks the rows it writes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Text,
    Uuid,
    and_,
    bindparam,
    cast,
    func,
    or_,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from qrefund.platform.statements import SCOPED_OPTION


def keyset_past(column: Any, ident: Any, position: tuple[Any, Any], *,
                descending: bool = True) -> Any:
    """The rows after ``position`` = (at, last) of a page ordered by (``column``, ``ident``):
    ``column < at OR (column = at AND ident < last)`` when descending, with the redundant
    bound ``column <= at`` in front. PostgreSQL cannot use the ``OR`` as an index
    condition: without the bound a page deep in a large merchant's list walked the index
    from its newest row and filtered out every row before the page (page 9,520 of
    952,047 payments: 476,000 rows, 136 ms); with it the scan starts at the cursor
    (0.1 ms at any depth). SQLite uses the bound the same way."""
    at, last = position
    if descending:
        return and_(column <= at, or_(column < at, and_(column == at, ident < last)))
    return and_(column >= at, or_(column > at, and_(column == at, ident > last)))


def in_keys(columns: tuple[Any, ...], keys: Sequence[tuple[Any, ...]], *, is_sqlite: bool,
            types: tuple[Any, ...] | None = None) -> ColumnElement[bool]:
    """``(tenant_id, id) IN keys`` (any number of columns), cheap to plan however many
    keys there are.

    PostgreSQL plans a literal list of row values as one index probe each (1,000
    pairs: ~200 ms of planning); arrays unnested side by side make it a semi-join
    instead. ``types`` are the columns' types (default: all UUIDs). SQLite (no
    arrays) gets the plain list.
    """
    if len(keys) == 1:  # one row (a node, one relation): plain equalities, cheaper to
        # build, to key in the statement cache and to plan
        return and_(*(column == value for column, value in zip(columns, keys[0], strict=True)))
    if is_sqlite:
        return tuple_(*columns).in_(list(keys))
    arrays = [func.unnest(bindparam(None, [k[i] for k in keys], type_=ARRAY(t)))
              for i, t in enumerate(types or (Uuid(),) * len(columns))]
    return tuple_(*columns).in_(select(*arrays))


@cache
def single_insert(table: Any, skip_conflicts_on: tuple[str, ...], returning: str | None,
                  is_sqlite: bool) -> Any:
    """``INSERT INTO table (every column) VALUES (...)`` with insert_rows' options, built
    once per table and options (the statement cache then finds it by identity)."""
    stmt: Any = (sqlite_insert if is_sqlite else postgresql_insert)(table)
    if skip_conflicts_on:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(skip_conflicts_on))
    if returning is not None:
        stmt = stmt.returning(table.c[returning])
    return stmt.execution_options(**{SCOPED_OPTION: True})


def unnested(column: Any, values: list[Any]) -> Any:
    """``unnest(:array)`` of one column's values, typed as the column (JSON goes as text
    and is cast back: psycopg has no adapter for arrays of JSON)."""
    if isinstance(column.type, JSON):
        texts = [None if v is None else json.dumps(v, separators=(",", ":")) for v in values]
        return cast(func.unnest(bindparam(None, texts, type_=ARRAY(Text()))), column.type)
    return func.unnest(bindparam(None, values, type_=ARRAY(column.type)))


# The counter's name, a parameter of every counted insert.
COUNTER_PARAMETER = "counter"


def as_is(value: Any) -> Any:
    """The counter's value itself as the column's (an event's ``seq``)."""
    return value


@cache
def counted_insert(table: Any, column: str, counters: Any, form: Any = as_is) -> Any:
    """``INSERT INTO table`` of one row whose ``column`` is ``form(<the next value of a
    tenant's counter>)``, the counter's upsert (``counters``: the ``tenant_sequences``
    table) a CTE of the same statement, ``RETURNING column`` (PostgreSQL).

    A tenant's counters (its event sequence, its case and ticket numbers) are gapless:
    the upsert's row lock is held until the unit ends, so the tenant's writers take
    their numbers one after the other. Drawn by the INSERT that uses it, a number costs
    no round trip of its own, and the lock is taken only as the row is written. Every
    other column is a named parameter of its own name; ``tenant_id`` also names the
    counter's tenant and ``counter`` its name. Built once per (table, column, form):
    pass a module-level ``form``. Marked scoped: the repository checks the row's tenant
    (``check_new_rows``) before running it."""
    tenant = bindparam("tenant_id", type_=table.c.tenant_id.type)
    counted = (postgresql_insert(counters)
               .values(tenant_id=tenant, name=bindparam(COUNTER_PARAMETER), value=1)
               .on_conflict_do_update(index_elements=["tenant_id", "name"],
                                      set_={"value": counters.c.value + 1})
               .returning(counters.c.value).cte("counted"))
    columns = list(table.columns)
    values = [form(counted.c.value) if c.name == column else tenant if c.name == "tenant_id"
              else bindparam(c.name, type_=c.type) for c in columns]
    return (postgresql_insert(table).from_select([c.name for c in columns],
                                                 select(*values).select_from(counted))
            .returning(table.c[column]).execution_options(**{SCOPED_OPTION: True}))
