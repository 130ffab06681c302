"""Bad input: user errors or GraphQL validation errors, never a 500, never a partial row."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from qrefund.graphql_schema import ids
from tests.foundation.helpers import RECORD, record_errors, record_txn, row_counts, txn_input
from tests.support.graphql import gql
from tests.support.world import World

LONG = "x" * 10_000


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"amount": "-1.00"}, "INVALID_AMOUNT", "amount"),
        ({"amount": "0"}, "INVALID_AMOUNT", "amount"),
        ({"amount": "0.00"}, "INVALID_AMOUNT", "amount"),
        ({"amount": "10.001"}, "INVALID_AMOUNT", "amount"),
        ({"amount": "100000000000000"}, "INVALID_AMOUNT", "amount"),
        ({"currency": "XYZ"}, "INVALID_CURRENCY", "currency"),
        ({"currency": ""}, "INVALID_CURRENCY", "currency"),
        ({"currency": LONG}, "INVALID_CURRENCY", "currency"),
        ({"paidAt": "2026-11-01T10:00:00"}, "INVALID_DATETIME", "paidAt"),
        ({"paidAt": "2999-01-01T00:00:00Z"}, "INVALID_DATETIME", "paidAt"),
        ({"merchantOrderNo": LONG}, "TOO_LONG", "merchantOrderNo"),
        ({"merchantOrderNo": "   "}, "REQUIRED", "merchantOrderNo"),
        ({"merchantOrderNo": "ORD 1; DROP TABLE"}, "INVALID_FORMAT", "merchantOrderNo"),
        ({"merchantOrderNo": "ORD\x001"}, "INVALID_FORMAT", "merchantOrderNo"),
        ({"providerReference": LONG}, "TOO_LONG", "providerReference"),
        ({"terminalId": LONG}, "TOO_LONG", "terminalId"),
        ({"storeId": LONG}, "TOO_LONG", "storeId"),
        ({"payerAccount": LONG}, "TOO_LONG", "payerAccount"),
        ({"payerAccount": "wx\x00123"}, "INVALID_FORMAT", "payerAccount"),
        ({"merchantId": LONG}, "NOT_FOUND", "merchantId"),
        (
            {"merchantId": ids.encode("Transaction", ids.uuid.uuid4(), ids.uuid.uuid4())},
            "NOT_FOUND",
            "merchantId",
        ),
    ],
    ids=lambda v: repr(v)[:40] if isinstance(v, dict) else str(v),
)
async def test_record_transaction_refusals(
    client: httpx.AsyncClient,
    world: World,
    owner_engine: Any,
    overrides: dict[str, Any],
    code: str,
    field: str,
) -> None:
    before = row_counts(owner_engine)
    errors = await record_errors(client, world.key("a", "INTEGRATION"), **overrides)
    assert [(e["code"], e["field"]) for e in errors] == [(code, [field])], errors
    assert row_counts(owner_engine) == before


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"channel": "BITCOIN"}, "PaymentChannel"),
        ({"status": "MAYBE"}, "TransactionStatus"),
        ({"paidAt": "yesterday"}, "DateTime"),
        ({"paidAt": "2026-13-45T99:00:00Z"}, "DateTime"),
        ({"amount": "twelve"}, "Decimal"),
        # Money is a plain decimal string: no exponent, no JSON number, no locale forms.
        ({"amount": "1e30"}, "no exponent"),
        ({"amount": "1E+600000"}, "no exponent"),
        ({"amount": "NaN"}, "Decimal"),
        ({"amount": "Infinity"}, "Decimal"),
        ({"amount": 36.5}, "not a JSON number"),
        ({"amount": 36}, "not a JSON number"),
        ({"amount": "1,000.00"}, "Decimal"),
        ({"amount": "36,50"}, "Decimal"),
        ({"amount": "\uff13\uff16"}, "Decimal"),
        ({"paidAt": "yest"}, "ISO 8601"),
        ({"amount": None}, "amount"),
        ({"merchantOrderNo": 12345}, "String"),
        ({"unknownField": "x"}, "unknownField"),
    ],
    ids=lambda v: repr(v)[:40],
)
async def test_malformed_values_are_graphql_validation_errors(
    client: httpx.AsyncClient,
    world: World,
    owner_engine: Any,
    overrides: dict[str, Any],
    fragment: str,
) -> None:
    before = row_counts(owner_engine)
    body = await gql(
        client, RECORD, {"input": txn_input(**overrides)}, key=world.key("a", "INTEGRATION")
    )
    assert body["data"] is None
    assert fragment in body["errors"][0]["message"], body
    assert "invalid literal" not in body["errors"][0]["message"], "no Python internals"
    assert "INTERNAL_ERROR" not in str(body)
    assert row_counts(owner_engine) == before


async def test_unknown_enum_in_a_filter_and_a_key_role(
    client: httpx.AsyncClient, world: World
) -> None:
    body = await gql(
        client, "{ transactions(filter: {channel: [BITCOIN]}) { totalCount } }", key=world.key("a")
    )
    assert body["data"] is None and "BITCOIN" in body["errors"][0]["message"]
    body = await gql(
        client,
        "mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret } }",
        {"i": {"tenantId": ids.encode("Tenant", world.merchant_a), "name": "k", "role": "ROOT"}},
        key=world.key("a"),
    )
    assert body["data"] is None and "ApiKeyRole" in body["errors"][0]["message"]


async def test_currency_codes_are_normalised(client: httpx.AsyncClient, world: World) -> None:
    txn = await record_txn(client, world.key("a", "INTEGRATION"), currency=" cny ", amount="3.5")
    assert txn["amount"] == {"amount": "3.50", "currency": "CNY"}


MERCHANT = """mutation($i: CreateMerchantInput!) { createMerchant(input: $i) {
  merchant { id } userErrors { code field } } }"""


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"name": LONG}, "TOO_LONG", "name"),
        ({"name": ""}, "REQUIRED", "name"),
        ({"name": "Tea\x07House"}, "INVALID_FORMAT", "name"),
        ({"slug": LONG}, "INVALID_SLUG", "slug"),
        ({"slug": "Has Spaces"}, "INVALID_SLUG", "slug"),
        ({"timezone": LONG}, "INVALID_TIMEZONE", "timezone"),
        ({"timezone": "Mars/Olympus"}, "INVALID_TIMEZONE", "timezone"),
        ({"timezone": "../../etc/passwd"}, "INVALID_TIMEZONE", "timezone"),
        ({"defaultCurrency": "XXQ"}, "INVALID_CURRENCY", "defaultCurrency"),
        ({"slug": "merchant-a"}, "SLUG_TAKEN", "slug"),
    ],
    ids=lambda v: repr(v)[:40] if isinstance(v, dict) else str(v),
)
async def test_create_merchant_refusals(
    client: httpx.AsyncClient,
    world: World,
    owner_engine: Any,
    overrides: dict[str, Any],
    code: str,
    field: str,
) -> None:
    before = row_counts(owner_engine)
    variables = {"i": {"name": "New Shop", "slug": "new-shop", **overrides}}
    body = await gql(client, MERCHANT, variables, key=world.key("agency"))
    assert body["data"]["createMerchant"] == {
        "merchant": None,
        "userErrors": [{"code": code, "field": [field]}],
    }, body
    assert row_counts(owner_engine) == before


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ("(first: 0)", "INVALID_PAGE_SIZE"),
        ("(first: -5)", "INVALID_PAGE_SIZE"),
        ("(first: 101)", "INVALID_PAGE_SIZE"),
        (f'(after: "{LONG}")', "INVALID_CURSOR"),
        ('(after: "not a cursor")', "INVALID_CURSOR"),
        (f'(filter: {{merchantIds: ["{LONG}"]}})', "NOT_FOUND"),
        (f'(filter: {{terminalId: "{LONG}"}})', "TOO_LONG"),
        ('(filter: {storeId: "S\\u0000"})', "INVALID_FORMAT"),
        ('(filter: {paidFrom: "2026-11-01T00:00:00"})', "INVALID_DATETIME"),
        ('(filter: {amountMin: "1.00"})', "INVALID_INPUT"),
        ('(filter: {amountMin: "1.001", currency: "CNY"})', "INVALID_AMOUNT"),
        ('(filter: {amountMax: "5", currency: "ZZZ"})', "INVALID_CURRENCY"),
    ],
)
async def test_transactions_query_refusals(
    client: httpx.AsyncClient, world: World, args: str, code: str
) -> None:
    body = await gql(
        client, f"{{ transactions{args} {{ edges {{ cursor }} }} }}", key=world.key("a")
    )
    assert body["data"] is None, body
    assert [e["extensions"]["code"] for e in body["errors"]] == [code], body


async def test_merchants_page_size_and_cursor(client: httpx.AsyncClient, world: World) -> None:
    for args, code in [("(first: 1000)", "INVALID_PAGE_SIZE"), ('(after: "@@")', "INVALID_CURSOR")]:
        body = await gql(
            client, f"{{ merchants{args} {{ edges {{ cursor }} }} }}", key=world.key("agency")
        )
        assert [e["extensions"]["code"] for e in body["errors"]] == [code], body


async def test_oversized_body_is_413(
    client: httpx.AsyncClient, world: World, owner_engine: Any, settings: Any
) -> None:
    before = row_counts(owner_engine)
    big = txn_input(payerAccount="x" * (settings.max_body_bytes + 10))
    response = await client.post(
        "/graphql",
        json={"query": RECORD, "variables": {"input": big}},
        headers={"Authorization": f"Bearer {world.key('a')}"},
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert row_counts(owner_engine) == before


async def test_oversized_streamed_body_is_413(
    client: httpx.AsyncClient, world: World, settings: Any
) -> None:
    async def chunks() -> Any:  # no Content-Length: the limit applies while reading
        for _ in range(settings.max_body_bytes // 65_536 + 2):
            yield b" " * 65_536

    response = await client.post(
        "/graphql",
        content=chunks(),
        headers={"Authorization": f"Bearer {world.key('a')}", "Content-Type": "application/json"},
    )
    assert response.status_code == 413


async def test_lying_content_length_is_413(client: httpx.AsyncClient, world: World) -> None:
    response = await client.post(
        "/graphql",
        content=b"{}",
        headers={
            "Authorization": f"Bearer {world.key('a')}",
            "Content-Type": "application/json",
            "Content-Length": "abc",
        },
    )
    assert response.status_code in (400, 413)
