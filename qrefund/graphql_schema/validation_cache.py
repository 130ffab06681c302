"""Validation kept per parsed document, found by the document's identity.

Strawberry's ``ValidationCache`` keys an ``lru_cache`` by the document itself. In
graphql-core 3.3 the AST nodes are frozen dataclasses whose hash is not kept: each
look-up hashed every node of the document again (about 80 ``__hash__`` calls for one
case by ``node(id)``, several hundred for a 50-row page; 5-8% of the CPU of a
``node(id)`` request). ``ParserCache`` hands back the same document object for the
same text, so its identity is the key here, as it already is for the cost plans
(:class:`qrefund.graphql_schema.cost.QueryCost`). Each entry holds its document, so
an identity is never reused while its entry lives. The answer is the one
``validate_document`` gives: same schema, same document, same rules.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from functools import partial
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

_Key = tuple[int, int, tuple[Any, ...]]


class ValidationByDocument(SchemaExtension):
    """``ValidationCache``'s behaviour, keyed by (schema, document, rules) identity."""

    def __init__(self, *, kept: OrderedDict[_Key, tuple[Any, Any, list[GraphQLError]]],
                 maxsize: int) -> None:
        self.kept = kept
        self.maxsize = maxsize

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        schema, document = context.schema._schema, context.graphql_document
        rules = context.validation_rules
        key = (id(schema), id(document), rules)
        found = self.kept.get(key)
        if found is not None and found[0] is schema and found[1] is document:
            errors = found[2]
        else:
            errors = validate_document(schema, document, rules)  # type: ignore[arg-type]
            self.kept[key] = (schema, document, errors)
            if len(self.kept) > self.maxsize:
                self.kept.popitem(last=False)
        context.pre_execution_errors = errors
        yield


def validation_by_document(maxsize: int) -> partial[ValidationByDocument]:
    """An extension factory whose instances share one bounded store (its ``kept``
    keyword), one per schema."""
    return partial(ValidationByDocument, kept=OrderedDict(), maxsize=maxsize)
