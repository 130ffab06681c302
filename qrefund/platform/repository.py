"""The scope filter every repository query goes through.

There is no unscoped query path: :func:`scoped` is how a statement on a tenant
table gets its ``tenant_id`` condition, and it needs a :class:`TenantScope`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, Uuid, bindparam, func, select, tuple_
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute

from qrefund.tenants.scope import TenantScope

S = TypeVar("S", bound=Select[Any])


def scoped(stmt: S, tenant_column: InstrumentedAttribute[Any] | Any, scope: TenantScope) -> S:
    if scope.tenant_ids is None:
        return stmt
    return stmt.where(tenant_column.in_(sorted(scope.tenant_ids)))


def in_keys(columns: tuple[Any, ...], keys: Sequence[tuple[Any, ...]], *, is_sqlite: bool,
            types: tuple[Any, ...] | None = None) -> ColumnElement[bool]:
    """``(tenant_id, id) IN keys`` (any number of columns), cheap to plan however many
    keys there are.

    PostgreSQL plans a literal list of row values as one index probe each (1,000
    pairs: ~200 ms of planning); arrays unnested side by side make it a semi-join
    instead. ``types`` are the columns' types (default: all UUIDs). SQLite (no
    arrays) gets the plain list.
    """
    if is_sqlite:
        return tuple_(*columns).in_(list(keys))
    arrays = [func.unnest(bindparam(None, [k[i] for k in keys], type_=ARRAY(t)))
              for i, t in enumerate(types or (Uuid(),) * len(columns))]
    return tuple_(*columns).in_(select(*arrays))
