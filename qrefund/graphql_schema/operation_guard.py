"""Parsing and validation kept per document, and the one extension that guards an
operation.

**Validation by the document's identity.** Strawberry's ``ValidationCache`` keys an
``lru_cache`` by the document itself. In graphql-core 3.3 the AST nodes are frozen
dataclasses whose hash is not kept: each look-up hashed every node of the document
again (about 80 ``__hash__`` calls for one case by ``node(id)``, several hundred for a
50-row page; 5-8% of the CPU of a ``node(id)`` request). The parse cache hands back
the same document object for the same text, so its identity is the key here, as it
already is for the cost plans (:class:`qrefund.graphql_schema.cost.QueryCost`). Each
entry holds its document, so an identity is never reused while its entry lives. The
answer is the one ``validate_document`` gives: same schema, same document, same rules.

**One extension, not six.** Strawberry builds every extension anew for each request
and, per extension and lifecycle stage, looks its hook up and wraps it in a context
manager (24 look-ups and six wrappers per request for the six it had).
:class:`OperationGuard` does in one instance, in the same stages and order, what
``MaxTokensLimiter``, ``ParserCache``, ``AddValidationRules``, ``ValidationCache``,
:func:`~qrefund.graphql_schema.cost.over_limit` and
:class:`~qrefund.graphql_schema.errors.MaskUnexpectedErrors` did: before the
operation the token limit and the extra rules, the parse and the validation from the
caches, the cost check before execution, and after the operation the masking of
unexpected errors (``MaskErrors``' own hooks, streamed results included).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from graphql import GraphQLError, parse
from strawberry.schema.schema import validate_document

from qrefund.graphql_schema.cost import QueryCost, over_limit, too_complex
from qrefund.graphql_schema.errors import MaskUnexpectedErrors

_Key = tuple[int, int, tuple[Any, ...]]


class ValidationStore:
    """Validation errors per (schema, document, rules), bounded, oldest out first."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.kept: OrderedDict[_Key, tuple[Any, Any, list[GraphQLError]]] = OrderedDict()

    def validate(self, schema: Any, document: Any, rules: tuple[Any, ...]) -> list[GraphQLError]:
        key = (id(schema), id(document), rules)
        found = self.kept.get(key)
        if found is not None and found[0] is schema and found[1] is document:
            return found[2]
        errors = validate_document(schema, document, rules)
        self.kept[key] = (schema, document, errors)
        if len(self.kept) > self.maxsize:
            self.kept.popitem(last=False)
        return errors


class OperationGuard(MaskUnexpectedErrors):
    """The limits, the caches and the error masking of one operation (module docstring)."""

    def __init__(self, *, max_tokens: int, rules: Sequence[Any], parse_cached: Callable[..., Any],
                 validations: ValidationStore, cost: QueryCost) -> None:
        super().__init__()
        self.max_tokens = max_tokens
        self.rules = tuple(rules)
        self.parse_cached = parse_cached
        self.validations = validations
        self.cost = cost
        self.refused: dict[str, int] | None = None

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.parse_options["max_tokens"] = self.max_tokens
        context.validation_rules = context.validation_rules + self.rules
        yield from super().on_operation()  # masks what the operation gave back

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        context.graphql_document = self.parse_cached(context.query, **context.parse_options)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        context.pre_execution_errors = self.validations.validate(
            context.schema._schema, context.graphql_document, context.validation_rules)
        yield

    def on_execute(self) -> Iterator[None]:
        self.refused = over_limit(self.cost, self.execution_context)
        if self.refused is not None:
            raise too_complex(self.refused)
        yield

    def get_results(self) -> dict[str, Any]:
        return {"cost": self.refused} if self.refused is not None else {}


@dataclass(frozen=True)
class GuardFactory:
    """The extension factory of one schema (Strawberry calls it for each operation):
    its guards share the parse cache and the validation store, and the known-operations
    path (``known_operations.py``) reads the same parts."""

    max_tokens: int
    rules: tuple[Any, ...]
    parse_cached: Callable[..., Any]
    validations: ValidationStore
    cost: QueryCost

    def __call__(self) -> OperationGuard:
        return OperationGuard(max_tokens=self.max_tokens, rules=self.rules,
                              parse_cached=self.parse_cached, validations=self.validations,
                              cost=self.cost)


def operation_guard(*, max_tokens: int, rules: Sequence[Any], cost: QueryCost,
                    maxsize: int = 1024) -> GuardFactory:
    """The extension factory of one schema, with its own parse cache and validation
    store."""
    return GuardFactory(max_tokens=max_tokens, rules=tuple(rules),
                        parse_cached=lru_cache(maxsize=maxsize)(parse),
                        validations=ValidationStore(maxsize), cost=cost)
