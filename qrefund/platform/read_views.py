"""Read-only views of table rows, for hot read paths that need no ORM instance.

Loading a row as an ORM instance costs an identity-map entry, instance state, and an
instrumented descriptor on every attribute read; a 50-case page with its payments and
last events read ~4,000 such attributes. :func:`view_class` makes, once per model, a
``tuple`` subclass holding the row's columns in mapper order, with one C-level
``itemgetter`` property per column attribute and the model's own properties and
methods copied onto it, so ``case.refundable_minor`` or ``txn.amount`` work as on the
model. The columns come through the same column types (UTC datetimes, JSON), so the
values are the ones the ORM would have set.

A view is not an ORM instance: it is immutable (a method that assigns fails with
``AttributeError``), equal to another view of the same values, and never part of a
unit of work. Only read paths that hand rows to GraphQL types use them
(``TenantRepository.views``).
"""

from __future__ import annotations

import inspect
import operator
from functools import cache
from typing import Any

from sqlalchemy import inspect as sa_inspect
from sqlmodel import SQLModel


@cache
def view_class(model: type[SQLModel]) -> type[tuple[Any, ...]]:
    """The view type of ``model`` (see the module docstring)."""
    keys = view_keys(model)
    namespace: dict[str, Any] = {"__slots__": (), "__module__": __name__,
                                 "__doc__": f"A read-only view of a {model.__name__} row."}
    for klass in reversed(model.__mro__):
        if not issubclass(klass, SQLModel) or klass is SQLModel:
            continue
        for name, value in vars(klass).items():
            if name.startswith("__") or name in keys:
                continue
            if isinstance(value, property | staticmethod | classmethod) or \
                    inspect.isfunction(value):
                namespace[name] = value
    for index, key in enumerate(keys):
        namespace[key] = property(operator.itemgetter(index))
    return type(f"{model.__name__}View", (tuple,), namespace)


@cache
def view_keys(model: type[SQLModel]) -> tuple[str, ...]:
    """The model's column attributes, in the order a view holds them."""
    return tuple(prop.key for prop in sa_inspect(model).column_attrs)


@cache
def view_columns(model: type[SQLModel]) -> tuple[Any, ...]:
    """The columns to select for a view, in the same order."""
    mapper = sa_inspect(model)
    return tuple(mapper.column_attrs[key].columns[0] for key in view_keys(model))
