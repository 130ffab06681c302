"""Facts about a field's selection, worked out once per document and kept.

What a resolver learns from its selection (the render tree of a page, the edges it
shows, whether it asks for ``totalCount``) depends on the document, where the field
sits in it and the ``@skip``/``@include`` switches, never on other variable values:
:func:`kept` works it out on the first request and hands the same answer to every
later request with the same document.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from graphql import GraphQLSchema
from graphql.execution.values import VariableValues

T = TypeVar("T")

# Compiled selections per schema, by where the field sits in which document; bounded,
# since the documents are the clients'.
_PLANS: WeakKeyDictionary[GraphQLSchema, dict[Hashable, Any]] = WeakKeyDictionary()
_MAX_PLANS = 1024


def kept(raw: Any, what: Hashable, build: Callable[[], T]) -> T:
    """``build()``, kept for the next request that asks ``what`` of the same field of
    the same document with the same ``@skip``/``@include`` switches.

    The key is the document's text and the offsets of the operation and of the
    field's nodes in it (stable across parses of that text, unlike the nodes, which a
    parser cache may drop and remake), and the values of the variables that can be
    switches (only Boolean ones can; null ones too, kept to be safe). A document parsed
    without locations is compiled every time."""
    operation, nodes = raw.operation, raw.field_nodes
    if operation.loc is None or any(n.loc is None for n in nodes):
        return build()
    values = raw.variable_values
    values = values.coerced if isinstance(values, VariableValues) else values
    key = (operation.loc.source.body, operation.loc.start,
           tuple(n.loc.start for n in nodes),
           tuple((k, v) for k, v in values.items() if v is None or isinstance(v, bool)),
           what)
    plans = _PLANS.setdefault(raw.schema, {})
    found = plans.get(key, _MISSING)
    if found is _MISSING:
        if len(plans) >= _MAX_PLANS:
            plans.clear()
        found = plans[key] = build()
    return found  # type: ignore[no-any-return]


_MISSING = object()
