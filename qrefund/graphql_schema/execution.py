"""A shorter path for plain leaf fields (``caseNumber``, ``status``, ``amount``...).

A 50-case page has about 1,500 fields, three in four of them leaves read straight
from an attribute. graphql-core runs each through the full field machinery: a
``GraphQLResolveInfo`` built for it, the resolver called through Strawberry's
wrapper, an awaitable check, ``complete_value``'s type dispatch, then the scalar's
``coerce_output_value``. For the fields Strawberry itself calls *basic* (no resolver,
no permission classes, no field extensions: its resolver is marked ``_is_default``
and ignores ``info``) whose type is a scalar or enum (nullable or not) and that take
no arguments, this execution context calls that same resolver without an ``info``
and coerces the value itself.

Anything out of the ordinary goes back to the stock path, which then does exactly
what it always did: a ``None`` for a non-null field (the error and its path, null
propagation), a value that is an exception or an awaitable, a resolver or coercion
that raises, a coercion to ``None``. The stock path calls the resolver again, which
for a basic field is reading the attribute again. ``tests/foundation/
test_fast_leaves.py`` runs a generated set of documents through this context and
the stock one and compares the responses in full.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLField,
    GraphQLNonNull,
    GraphQLObjectType,
    Undefined,
    is_leaf_type,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

# Values that are never awaitable: the awaitable check is skipped for them.
_PLAIN_TYPES = frozenset({str, int, float, bool})

# (coerce_output_value, non_null), or None for a field not taken here; kept on the
# GraphQLField itself (fields are unhashable, and live exactly as long as their schema).
_Plan = tuple[Any, bool] | None
_PLAN_ATTRIBUTE = "_qrefund_leaf_plan"


def _plan(field_def: GraphQLField) -> _Plan:
    if not getattr(field_def.resolve, "_is_default", False) or field_def.args:
        return None
    return_type: Any = field_def.type
    non_null = isinstance(return_type, GraphQLNonNull)
    named = return_type.of_type if non_null else return_type
    if not is_leaf_type(named):
        return None
    return named.coerce_output_value, non_null


class FastLeavesExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context with the leaf shortcut described above."""

    def execute_field(self, parent_type: GraphQLObjectType, source: Any,
                      field_details_list: FieldDetailsList, path: Path,
                      position_context: Any) -> Any:
        field_def = self.schema.get_field(parent_type,
                                          field_details_list[0].node.name.value)
        # Strawberry passes a middleware manager on every request; it wraps resolvers
        # only when a schema extension implements ``resolve`` (then: the stock path).
        manager = self.middleware_manager
        if field_def is None or (manager is not None and manager.middlewares):
            return super().execute_field(parent_type, source, field_details_list, path,
                                         position_context)
        try:
            plan = getattr(field_def, _PLAN_ATTRIBUTE)
        except AttributeError:
            plan = _plan(field_def)
            setattr(field_def, _PLAN_ATTRIBUTE, plan)
        if plan is not None:
            value = _leaf(plan, field_def, source, self.is_awaitable)
            if value is not Undefined:
                return value
        return super().execute_field(parent_type, source, field_details_list, path,
                                     position_context)


def _leaf(plan: tuple[Any, bool], field_def: GraphQLField, source: Any,
          is_awaitable: Any) -> Any:
    """The completed value, or ``Undefined`` for "let the stock path do it"."""
    coerce, non_null = plan
    try:
        result = field_def.resolve(source, None)  # type: ignore[misc]
    except Exception:
        return Undefined
    if result is None:
        return Undefined if non_null else None
    if result is Undefined or isinstance(result, Exception):
        return Undefined
    if type(result) not in _PLAIN_TYPES and is_awaitable(result):
        if hasattr(result, "close"):
            result.close()  # the stock path makes (and awaits) its own
        return Undefined
    try:
        coerced = coerce(result)
    except Exception:
        return Undefined
    if coerced is None or coerced is Undefined:
        return Undefined  # the stock path raises its TypeError for this field
    return coerced
