"""Operations whose document is known good, run without Strawberry's per-request frame.

For every request, Strawberry's ``Schema.execute`` builds an execution context, its
extensions (our one :class:`~qrefund.graphql_schema.operation_guard.OperationGuard`), a
runner that looks each lifecycle hook up and wraps it in a context manager made anew
(``contextlib.contextmanager`` applied per hook, per request) and a middleware manager,
then parses, validates and executes through them. For a document the parse cache and
the validation store already hold, that frame is most of what a small query costs: a
quarter of the CPU of one case by ``node(id)``, measured in-process.

:func:`execute_known` takes the same steps with the same caches and functions, in the
same order: the guard's parse cache (same text, same token limit: the same document
object), the operation the HTTP method allows, the validation store with the rules
Strawberry's context would carry, the cost limit, then graphql-core's ``execute`` with
the schema's execution context class and the same arguments. When the result carries
errors, they go through the schema's ``process_errors`` and the guard's own masking
(its ``on_operation``), on a Strawberry execution context made for them, as they would
on the stock path.

It answers None, and the request takes Strawberry's path, whenever that path would do
anything but execute: a document that does not parse, no operation to run (or several
and no name), an operation type the method does not allow, validation errors, a cost
over the limit, and a schema with more than the guard (tracing's extension,
directives, incremental delivery). Those answers are errors the stock path produces
from the same caches at little cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from graphql import GraphQLError, OperationType, execute, get_operation_ast, specified_rules
from strawberry.execution import optimized_is_awaitable
from strawberry.types import ExecutionResult
from strawberry.types.execution import ExecutionContext

from qrefund.graphql_schema import root_fields
from qrefund.graphql_schema.cost import refusal
from qrefund.graphql_schema.operation_guard import GuardFactory

# Strawberry's ExecutionContext starts from these rules; the guard adds its own.
_SPECIFIED_RULES = tuple(specified_rules)


@dataclass(frozen=True)
class KnownOperations:
    """What :func:`execute_known` needs of one schema: the schema and its guard factory
    (:func:`~qrefund.graphql_schema.operation_guard.operation_guard`)."""

    schema: Any
    guard: GuardFactory
    # node(id) alone answered without the executor (root_fields.py); off: executor.
    root_fields: bool = True

    @classmethod
    def of(cls, schema: Any) -> KnownOperations | None:
        """None when the schema runs more than the guard per operation."""
        extensions = list(getattr(schema, "extensions", ()))
        if (len(extensions) != 1 or getattr(schema, "directives", None)
                or schema.config.enable_experimental_incremental_execution):
            return None
        factory = extensions[0]
        return cls(schema, factory) if isinstance(factory, GuardFactory) else None


async def execute_known(known: KnownOperations, *, query: Any, variables: Any,
                        operation_name: str | None, extensions: Any, context: Any,
                        root_value: Any, allowed: set[Any]) -> ExecutionResult | None:
    """Strawberry's ``Schema.execute`` for a known-good document, else None (module
    docstring). ``allowed``: Strawberry's operation types for the HTTP method."""
    if not isinstance(query, str) or not query:
        return None
    guard = known.guard
    schema = known.schema
    try:
        document = guard.parse_cached(query, max_tokens=guard.max_tokens)
    except GraphQLError:
        return None  # the stock path parses again and answers the same error
    operation = get_operation_ast(document, operation_name)
    if operation is None or operation.operation not in (OperationType.QUERY,
                                                        OperationType.MUTATION):
        return None
    if operation.operation.value not in {kind.value for kind in allowed}:
        return None
    rules = _SPECIFIED_RULES + guard.rules
    if guard.validations.validate(schema._schema, document, rules):
        return None
    # Strawberry's context names the operation even when the request does not.
    name = operation_name or (operation.name.value if operation.name else None)
    if refusal(guard.cost, schema._schema, document, name, variables) is not None:
        return None
    try:
        shortcut = await root_fields.answer(schema._schema, document, operation, variables,
                                            context) if known.root_fields else None
        if shortcut is not None:
            data, errors = shortcut
        else:
            data, errors = await _executed(known, document, name, variables, extensions,
                                           context, root_value)
    except Exception as exc:  # as Strawberry turns it into the operation's one error
        data, errors = None, [exc if isinstance(exc, GraphQLError)
                              else GraphQLError(str(exc), original_error=exc)]
    if not errors:
        return ExecutionResult(data=data, errors=None, extensions={})
    return _with_errors(known, document, data, errors, query=query, variables=variables,
                        operation_name=operation_name, extensions=extensions,
                        context=context, root_value=root_value, allowed=allowed)


async def _executed(known: KnownOperations, document: Any, name: str | None, variables: Any,
                    extensions: Any, context: Any, root_value: Any) -> tuple[Any, Any]:
    """graphql-core's ``execute`` as Strawberry calls it: (data, errors)."""
    schema = known.schema
    result: Any = execute(
        schema._schema, document, root_value=root_value, context_value=context,
        variable_values=variables, operation_name=name,
        executor_class=schema.execution_context_class,
        is_awaitable=cast(Any, optimized_is_awaitable), operation_extensions=extensions)
    if optimized_is_awaitable(result):
        result = await result
    return result.data, result.errors


def _with_errors(known: KnownOperations, document: Any, data: Any, errors: list[GraphQLError],
                 *, query: str, variables: Any, operation_name: str | None, extensions: Any,
                 context: Any, root_value: Any, allowed: set[Any]) -> ExecutionResult:
    """The schema's error processing, then the guard's masking, as on the stock path."""
    schema = known.schema
    execution = ExecutionContext(
        query=query, schema=schema, allowed_operations=allowed, context=context,
        root_value=root_value, variables=variables, provided_operation_name=operation_name,
        operation_extensions=extensions)
    execution.graphql_document = document
    execution.pre_execution_errors = errors
    schema._process_errors(errors, execution)
    guard = known.guard()
    guard.execution_context = execution
    steps = guard.on_operation()
    next(steps)
    execution.result = ExecutionResult(data=data, errors=errors)
    next(steps, None)  # masks the unexpected ones
    result = execution.result
    result.extensions = {}
    return result
