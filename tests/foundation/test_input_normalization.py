"""The one input-normalisation layer: every string and datetime of every root field.

Regression cases of the hardening audit: NUL bytes and lone surrogates in any text
field of any mutation (16 of 20 were internal errors, one was stored for good in
an append-only policy version), naive and year-1/9999 datetimes, and cursors that
recurse or carry naive datetimes, in every connection. Each is answered with a
userError (mutations) or a coded GraphQL error (queries), never INTERNAL_ERROR,
and nothing is written.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
)

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.schema import default_schema
from tests.foundation.helpers import RECORD, row_counts, txn_input
from tests.support.graphql import gql
from tests.support.world import World

SCHEMA = default_schema()._schema
MUTATIONS = SCHEMA.mutation_type.fields  # type: ignore[union-attr]
SCALAR_SAMPLES = {
    "String": "x", "ID": ids.encode("Tenant", uuid.uuid4()), "Int": 1, "Boolean": True,
    "Decimal": "1.00", "DateTime": "2026-11-01T10:00:00+08:00", "JSON": {},
    # A JSON request cannot carry a file; the text fields beside it are refused first.
    "Upload": "x",
}


def _unwrap(kind: Any) -> Any:
    while isinstance(kind, GraphQLNonNull | GraphQLList):
        kind = kind.of_type
    return kind


def _sample(kind: Any) -> Any:
    """A well-formed value of an input type (every field filled in)."""
    if isinstance(kind, GraphQLNonNull):
        return _sample(kind.of_type)
    if isinstance(kind, GraphQLList):
        return [_sample(kind.of_type)]
    if isinstance(kind, GraphQLEnumType):
        return next(iter(kind.values))
    if isinstance(kind, GraphQLInputObjectType):
        return {name: _sample(f.type) for name, f in kind.fields.items()}
    assert isinstance(kind, GraphQLScalarType)
    return SCALAR_SAMPLES[kind.name]


def _text_paths(kind: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Paths to every String and ID leaf of an input type."""
    kind = _unwrap(kind)
    if isinstance(kind, GraphQLInputObjectType):
        return [p for name, f in kind.fields.items() for p in _text_paths(f.type, (*path, name))]
    if isinstance(kind, GraphQLScalarType) and kind.name in ("String", "ID"):
        return [path]
    return []


def _with(value: dict[str, Any], path: tuple[str, ...], leaf: str) -> dict[str, Any]:
    copy = json.loads(json.dumps(value))
    target = copy
    for name in path[:-1]:
        target = target[name]
        if isinstance(target, list):  # a list of input objects: change its first item
            target = target[0]
    target[path[-1]] = [leaf] if isinstance(target[path[-1]], list) else leaf
    return copy


TEXT_CASES = [
    (name, path) for name, field in MUTATIONS.items() if "input" in field.args
    for path in _text_paths(field.args["input"].type)
]


@pytest.mark.parametrize(("bad", "what"), [("ok\x00", "NUL"), ("ok\ud800", "surrogate"),
                                           ("ok\x1b[2J", "control")])
async def test_every_text_field_of_every_mutation_refuses_impossible_text(
    client: httpx.AsyncClient, world: World, owner_engine: Any, bad: str, what: str
) -> None:
    # Given every mutation with an input object and every text field in it
    assert len(TEXT_CASES) > 40, "the walk must find the mutations' text fields"
    before = row_counts(owner_engine)
    key = world.key("a")
    for name, path in TEXT_CASES:
        field = MUTATIONS[name]
        value = _with(_sample(field.args["input"].type), path, bad)
        input_type = str(field.args["input"].type)
        doc = (f"mutation($input: {input_type}) {{ {name}(input: $input) "
               "{ userErrors { code field } } }")
        # When the text carries the impossible character
        body = await gql(client, doc, {"input": value}, key=key)
        # Then that field is refused as a user error, before any service ran
        assert "errors" not in body, (name, path, body)
        assert body["data"][name]["userErrors"] == [
            {"code": "INVALID_FORMAT", "field": list(path)}], (name, path, what)
    assert row_counts(owner_engine) == before


async def test_text_is_stored_in_nfc(client: httpx.AsyncClient, world: World) -> None:
    # "é" as e + combining acute (NFD) and as one code point (NFC) is one value.
    doc = """mutation($input: RecordTransactionInput!) { recordTransaction(input: $input) {
      transaction { id } userErrors { code } } }"""
    decomposed = "wx_caf\u0065\u0301"
    body = await gql(client, doc, {"input": txn_input(payerAccount=decomposed)},
                     key=world.key("a", "INTEGRATION"))
    assert body["data"]["recordTransaction"]["userErrors"] == []
    masked = await gql(client, "query($id: ID!) { node(id: $id) { ... on Transaction "
                       "{ payerAccountMasked } } }",
                       {"id": body["data"]["recordTransaction"]["transaction"]["id"]},
                       key=world.key("a"))
    assert masked["data"]["node"]["payerAccountMasked"] == "****caf\u00e9"


@pytest.mark.parametrize("when", [
    "2026-11-01T10:00:00",            # no offset
    "0001-01-01T00:00:00+08:00",      # no UTC instant
    "9999-12-31T23:59:59-08:00",      # past what we store
    "1969-12-31T23:59:59Z",
])
async def test_datetimes_need_an_offset_and_a_sane_range(
    client: httpx.AsyncClient, world: World, owner_engine: Any, when: str
) -> None:
    before = row_counts(owner_engine)
    body = await gql(client, RECORD, {"input": txn_input(paidAt=when)},
                     key=world.key("a", "INTEGRATION"))
    assert body["data"]["recordTransaction"]["userErrors"][0]["code"] == "INVALID_DATETIME"
    assert body["data"]["recordTransaction"]["userErrors"][0]["field"] == ["paidAt"]
    expires = await gql(client, """mutation($t: ID!, $w: DateTime) { createApiKey(input:
        {tenantId: $t, name: "k", role: VIEWER, expiresAt: $w}) { userErrors { code field } } }""",
                        {"t": ids.encode("Tenant", world.merchant_a), "w": when},
                        key=world.key("a"))
    assert expires["data"]["createApiKey"]["userErrors"] == [
        {"code": "INVALID_DATETIME", "field": ["expiresAt"]}]
    for query, field in [
        ("{ transactions(filter: {paidFrom: $w}) { totalCount } }", "paidFrom"),
        ("{ refundCases(filter: {createdFrom: $w}) { totalCount } }", "createdFrom"),
        ("{ refundCases(filter: {dueBefore: $w}) { totalCount } }", "dueBefore"),
    ]:
        answer = await gql(client, "query($w: DateTime)" + query, {"w": when},
                           key=world.key("a"))
        assert [e["extensions"]["code"] for e in answer["errors"]] == ["INVALID_DATETIME"], (
            field, answer)
    assert row_counts(owner_engine) == before


def _cursor(raw: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")


BAD_CURSORS = [
    "[" * 5000 + "]" * 5000,                                    # deeply nested, not base64
    base64.urlsafe_b64encode(b"[" * 3000 + b"]" * 3000).decode(),  # deeply nested JSON
    _cursor(["2026-11-01T10:00:00", str(uuid.uuid4())]),        # naive datetime
    _cursor(["0001-01-01T00:00:00+08:00", str(uuid.uuid4())]),  # year 1
    _cursor([[["x"]], str(uuid.uuid4())]),                      # nested values
    _cursor({"a": 1}),
    "\ud800",
]


async def test_bad_cursors_in_every_connection(
    client: httpx.AsyncClient, world: World, owner_engine: Any
) -> None:
    key = world.key("a")
    case_id = ids.encode("RefundCase", world.merchant_a, uuid.uuid4())
    endpoint_id = ids.encode("WebhookEndpoint", world.merchant_a, uuid.uuid4())
    connections = [
        "merchants(after: $c)", "transactions(after: $c)", "refundCases(after: $c)",
        "webhookEndpoints(after: $c)",
        f'webhookDeliveries(endpointId: "{endpoint_id}", after: $c)',
        f'notifications(caseId: "{case_id}", after: $c)',
    ]
    for connection in connections:
        for cursor in BAD_CURSORS:
            document = f"query($c: String) {{ {connection} {{ edges {{ cursor }} }} }}"
            caller = world.key("agency") if "merchants" in connection else key
            body = await gql(client, document, {"c": cursor}, key=caller)
            codes = [e["extensions"]["code"] for e in body["errors"]]
            # The two look-ups by id answer NOT_FOUND first (the ids are random).
            assert codes in (["INVALID_CURSOR"], ["INVALID_FORMAT"], ["NOT_FOUND"]), (
                connection, cursor[:20], body)
            if "Id:" not in connection and cursor != "\ud800":
                assert codes == ["INVALID_CURSOR"], (connection, cursor[:20], body)


async def test_nul_in_public_and_filter_strings(client: httpx.AsyncClient, world: World) -> None:
    # publicRefundPolicy needs no key: a NUL used to reach PostgreSQL (internal error).
    anonymous = await gql(client, 'query($s: String!) { publicRefundPolicy(merchantSlug: $s) '
                          '{ merchantName } }', {"s": "merchant-a\x00"})
    assert [e["extensions"]["code"] for e in anonymous["errors"]] == ["INVALID_FORMAT"]
    for text in ("ann\x00", "ann\ud800"):
        body = await gql(client, 'query($a: String) { refundCases(filter: {assignee: $a}) '
                         '{ totalCount } }', {"a": text}, key=world.key("a"))
        assert [e["extensions"]["code"] for e in body["errors"]] == ["INVALID_FORMAT"], body
        assert body["errors"][0]["extensions"]["field"] == ["filter", "assignee"]
