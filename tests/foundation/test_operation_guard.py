"""The operation guard's validation kept per parsed document answers what validating
anew would. (Its limits, cost refusals and masking: test_http, test_query_cost,
test_fast_path_errors, the subscription tests.)"""

from __future__ import annotations

from typing import Any

from graphql import parse
from strawberry.schema.schema import validate_document

from qrefund.graphql_schema.operation_guard import GuardFactory, ValidationStore
from qrefund.graphql_schema.schema import build_schema
from qrefund.platform.config import Settings


def _store(schema: Any) -> Any:
    factories = [f for f in schema.extensions if isinstance(f, GuardFactory)]
    assert len(factories) == 1
    return factories[0].validations.kept


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


def test_another_document_object_or_other_rules_are_validated_again(
        settings: Settings) -> None:
    schema = build_schema(settings)._schema
    store = ValidationStore(maxsize=2)
    text = "{ __typename nope }"
    one, other = parse(text), parse(text)  # equal, but not the same object
    assert store.validate(schema, one, ()) is store.validate(schema, one, ())
    assert len(store.kept) == 1
    assert store.validate(schema, other, ()) is not store.validate(schema, one, ())
    assert len(store.kept) == 2
    # No rule refuses introspection, then one that does: kept apart.
    from graphql import NoSchemaIntrospectionCustomRule

    introspection = parse("{ __schema { queryType { name } } }")
    assert not store.validate(schema, introspection, ())
    assert store.validate(schema, introspection, (NoSchemaIntrospectionCustomRule,))
    assert len(store.kept) == 2  # bounded: the oldest entries went
    assert list(store.kept)[-1][1:] == (id(introspection), (NoSchemaIntrospectionCustomRule,))
