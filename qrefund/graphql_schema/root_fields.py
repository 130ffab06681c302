"""``node(id)`` alone in a known operation, answered without graphql-core's executor.

A client that shows one refund case or payment asks for it by id and nothing else:
``query($id: ID!) { node(id: $id) { ... } }``. When its selection can be rendered
(:mod:`qrefund.graphql_schema.rendering`), PostgreSQL builds the whole answer and the
executor around it only carries it: an execution context built per request, the
root's field collection, the resolve info, Strawberry's argument conversion and
resolver wrappers, a future per field. That frame is about a sixth of the CPU of such
a request, measured in-process.

:func:`answer` does what that frame would, in the same order, with the same
functions: graphql-core's coercion of the operation's variables, the input
normalisation every root field's arguments go through
(:func:`~qrefund.graphql_schema.inputs.normalized_arguments`), then the node
resolver's own steps (:func:`~qrefund.graphql_schema.node.decoded`,
:func:`~qrefund.graphql_schema.node.rendered`). An error the read raises becomes the
field's located error, with ``node`` null, as the executor would make it.

It answers None, and the operation goes to the executor, for anything else: another
shape of operation (more root fields, a directive on the root field, a fragment at
the root, an id that is neither a variable nor a string), a schema whose ``node``
field is not this project's (other resolvers, permission classes or extensions), no
caller, variables that do not coerce, an id the normalisation refuses, or a node that
is not rendered (its type has no recipes, or a field selected has none). Those cost
the executor nothing more than before: nothing has been read. The differential test
(``tests/foundation/test_root_fields.py``) sends each request both ways.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    StringValueNode,
    VariableNode,
    located_error,
)
from graphql.execution.values import get_variable_values

from qrefund.graphql_schema import node
from qrefund.graphql_schema.inputs import NormalizeInput, normalized_arguments
from qrefund.graphql_schema.rendering import FieldSite
from qrefund.platform.errors import DomainError

_STRAWBERRY_FIELD = "strawberry-definition"
_MAX_PLANS = 1024


@dataclass(frozen=True, slots=True)
class _Plan:
    """A ``node(id)`` operation: its response key, where the id comes from (a variable
    or a string literal), the field's node, and the document's fragments."""

    key: str
    variable: str | None
    literal: str | None
    field_nodes: list[FieldNode]
    fragments: dict[str, FragmentDefinitionNode]


# id(operation) -> (the operation, kept so its id is not reused; its plan or None)
_plans: dict[int, tuple[OperationDefinitionNode, _Plan | None]] = {}


def _plan(schema: GraphQLSchema, document: DocumentNode,
          operation: OperationDefinitionNode) -> _Plan | None:
    found = _plans.get(id(operation))
    if found is not None and found[0] is operation:
        return found[1]
    if len(_plans) >= _MAX_PLANS:
        _plans.clear()
    plan = _build(schema, document, operation) if _is_ours(schema) else None
    _plans[id(operation)] = (operation, plan)
    return plan


def _is_ours(schema: GraphQLSchema) -> bool:
    """Whether the root ``node`` field is :class:`~qrefund.graphql_schema.node.NodeQueries`'
    with nothing around it but the input normalisation."""
    query = schema.query_type
    field = query.fields.get("node") if query is not None else None
    definition: Any = field.extensions.get(_STRAWBERRY_FIELD) if field is not None else None
    resolver = getattr(definition, "base_resolver", None)
    return (resolver is not None
            and resolver.wrapped_func is node.NodeQueries.node
            and not definition.permission_classes
            and all(type(e) is NormalizeInput for e in definition.extensions))


def _build(schema: GraphQLSchema, document: DocumentNode,
           operation: OperationDefinitionNode) -> _Plan | None:
    selections = operation.selection_set.selections
    if (operation.operation is not OperationType.QUERY or operation.directives
            or len(selections) != 1 or not isinstance(selections[0], FieldNode)):
        return None
    field = selections[0]
    arguments = field.arguments or ()
    if (field.name.value != "node" or field.directives or len(arguments) != 1
            or arguments[0].name.value != "id"):
        return None
    value = arguments[0].value
    variable = value.name.value if isinstance(value, VariableNode) else None
    literal = value.value if isinstance(value, StringValueNode) else None
    if variable is None and literal is None:
        return None
    fragments = {d.name.value: d for d in document.definitions
                 if isinstance(d, FragmentDefinitionNode)}
    key = field.alias.value if field.alias else field.name.value
    return _Plan(key, variable, literal, [field], fragments)


async def answer(schema: GraphQLSchema, document: DocumentNode,
                 operation: OperationDefinitionNode, variables: Any,
                 context: Any) -> tuple[dict[str, Any], list[GraphQLError] | None] | None:
    """(data, errors) as the executor would answer a ``node(id)`` operation, or None
    for "let the executor answer" (module docstring)."""
    plan = _plan(schema, document, operation)
    if (plan is None or getattr(context, "scope", None) is None
            or not isinstance(variables, dict | None)):
        return None  # not this shape, no caller (the resolver's 401), or bad variables
    values = get_variable_values(schema, operation.variable_definitions or (),
                                 variables or {})
    if isinstance(values, list):
        return None  # the executor reports the coercion errors
    given = values.coerced.get(plan.variable) if plan.variable else plan.literal
    if not isinstance(given, str):
        return None  # null or absent: the executor's argument error
    try:
        given = normalized_arguments({"id": given})["id"]
    except DomainError:
        return None  # the normalisation's own error, from the executor
    found = node.decoded(given)
    if found is None:
        return {plan.key: None}, None
    site = FieldSite(schema, plan.fragments, values, operation, plan.field_nodes)
    try:
        rendered = await node.rendered(context, site, *found)
    except Exception as exc:  # as the executor locates a resolver's error
        return {plan.key: None}, [located_error(exc, plan.field_nodes, [plan.key])]
    if rendered is NotImplemented:
        return None
    return {plan.key: rendered}, None
