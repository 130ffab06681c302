"""Validation is kept per parsed document and answers what validating anew would."""

from __future__ import annotations

from functools import partial
from typing import Any

from graphql import parse
from strawberry.schema.schema import validate_document

from qrefund.graphql_schema.schema import build_schema
from qrefund.graphql_schema.validation_cache import ValidationByDocument
from qrefund.platform.config import Settings


def _store(schema: Any) -> Any:
    factories = [f for f in schema.extensions
                 if isinstance(f, partial) and f.func is ValidationByDocument]
    assert len(factories) == 1
    return factories[0].keywords["kept"]


async def test_a_document_is_validated_once_and_its_errors_kept(settings: Settings) -> None:
    schema = build_schema(settings)
    kept = _store(schema)
    bad = "{ __typename nope }"
    first = await schema.execute(bad)
    assert len(kept) == 1
    second = await schema.execute(bad)
    assert len(kept) == 1  # found again: the parser cache gave back the same document
    assert first.errors and second.errors
    assert [e.message for e in first.errors] == [e.message for e in second.errors]
    assert "Cannot query field 'nope'" in first.errors[0].message
    # What is kept is what validating the same document anew gives.
    (_, document, errors), = kept.values()
    key, = kept.keys()
    fresh = validate_document(schema._schema, document, key[2])
    assert [e.formatted for e in fresh] == [e.formatted for e in errors]

    ok = await schema.execute("{ __typename }")
    assert ok.errors is None and ok.data == {"__typename": "Query"}
    assert len(kept) == 2


async def test_another_document_object_or_other_rules_are_validated_again(
        settings: Settings) -> None:
    schema = build_schema(settings)
    kept = _store(schema)
    extension = ValidationByDocument(kept=kept, maxsize=2)

    class Context:  # what on_validate reads of Strawberry's execution context
        def __init__(self, document: Any, rules: tuple[Any, ...]) -> None:
            self.schema, self.graphql_document = schema, document
            self.validation_rules, self.pre_execution_errors = rules, None

    def validate(context: Context) -> Any:
        extension.execution_context = context  # type: ignore[assignment]
        for _ in extension.on_validate():
            pass
        return context.pre_execution_errors

    text = "{ __typename nope }"
    one, other = parse(text), parse(text)  # equal, but not the same object
    assert validate(Context(one, ())) == validate(Context(one, ()))
    assert len(kept) == 1
    validate(Context(other, ()))
    assert len(kept) == 2
    # No rule that refuses __typename, then one that refuses every field: kept apart.
    from graphql import NoSchemaIntrospectionCustomRule

    assert not validate(Context(parse("{ __schema { queryType { name } } }"), ()))
    introspection = parse("{ __schema { queryType { name } } }")
    assert not validate(Context(introspection, ()))
    assert validate(Context(introspection, (NoSchemaIntrospectionCustomRule,)))
    # Bounded: the oldest entries go.
    assert len(kept) == 2
