"""node(id) for every foundation type, and agencies acting on their merchants."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from qrefund.graphql_schema import ids
from tests.foundation.helpers import record_errors, record_txn, row_counts
from tests.support.graphql import ok
from tests.support.world import World

NODE = """query($id: ID!) { node(id: $id) { __typename id
  ... on Tenant { slug kind }
  ... on Transaction { merchantOrderNo merchant { slug } }
  ... on ApiKey { name role } } }"""


async def _node(client: httpx.AsyncClient, key: str, gid: str) -> Any:
    return (await ok(client, NODE, {"id": gid}, key=key))["node"]


async def test_node_resolves_each_type_in_scope(client: httpx.AsyncClient, world: World) -> None:
    txn = await record_txn(client, world.key("a", "INTEGRATION"), merchantOrderNo="NODE-1")
    keys = await ok(
        client,
        "mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { apiKey { id } } }",
        {
            "i": {
                "tenantId": ids.encode("Tenant", world.merchant_a),
                "name": "pos",
                "role": "INTEGRATION",
            }
        },
        key=world.key("a"),
    )
    key_id = keys["createApiKey"]["apiKey"]["id"]
    for who in ("a", "agency", "operator"):
        key = world.key(who)
        assert await _node(client, key, ids.encode("Tenant", world.merchant_a)) == {
            "__typename": "Tenant",
            "id": ids.encode("Tenant", world.merchant_a),
            "slug": "merchant-a",
            "kind": "MERCHANT",
        }
        assert await _node(client, key, txn["id"]) == {
            "__typename": "Transaction",
            "id": txn["id"],
            "merchantOrderNo": "NODE-1",
            "merchant": {"slug": "merchant-a"},
        }
        assert await _node(client, key, key_id) == {
            "__typename": "ApiKey",
            "id": key_id,
            "name": "pos",
            "role": "INTEGRATION",
        }


async def test_node_out_of_scope_or_unknown_is_null(
    client: httpx.AsyncClient, world: World
) -> None:
    txn = await record_txn(client, world.key("a", "INTEGRATION"), merchantOrderNo="NODE-2")
    tenant_id, txn_id = ids.scoped_id(txn["id"], "Transaction")
    nulls = {
        "c": [
            txn["id"],
            ids.encode("Tenant", world.merchant_a),
            ids.encode("Tenant", world.agency_id),
        ],
        "b": [txn["id"]],
        "other_agency": [txn["id"], ids.encode("Tenant", world.merchant_b)],
        "a": [
            ids.encode("Transaction", tenant_id, uuid.uuid4()),  # absent
            ids.encode("Transaction", world.merchant_b, txn_id),  # right id, wrong tenant
            ids.encode("Transaction", tenant_id),  # wrong arity
            ids.encode("Nope", tenant_id, txn_id),  # unknown type
            ids.encode("ApiKey", tenant_id, txn_id),  # another type's id
            "not-base64-at-all!!",
            "",
            "x" * 5000,
            ids.encode("Tenant", world.operator_id),
        ],
    }
    for who, gids in nulls.items():
        for gid in gids:
            assert await _node(client, world.key(who), gid) is None, (who, gid)


async def test_agency_key_acts_on_its_merchant_by_merchant_id(
    client: httpx.AsyncClient, world: World, owner_engine: Any
) -> None:
    key = world.key("agency")
    txn = await record_txn(
        client, key, merchantId=ids.encode("Tenant", world.merchant_a), merchantOrderNo="AG-1"
    )
    node = await _node(client, key, txn["id"])
    assert node["merchant"] == {"slug": "merchant-a"}

    before = row_counts(owner_engine)
    errors = await record_errors(client, key, merchantOrderNo="AG-2")
    assert [(e["code"], e["field"]) for e in errors] == [("MERCHANT_REQUIRED", ["merchantId"])]
    errors = await record_errors(client, key, merchantId=ids.encode("Tenant", world.agency_id))
    assert [(e["code"], e["field"]) for e in errors] == [("NOT_A_MERCHANT", ["merchantId"])]
    for other in (world.merchant_c, await _other_agency_merchant(client, world)):
        before = row_counts(owner_engine)
        errors = await record_errors(client, key, merchantId=ids.encode("Tenant", other))
        assert [e["code"] for e in errors] == ["NOT_FOUND"]
        assert row_counts(owner_engine) == before


async def test_agency_creates_merchants_under_itself_only(
    client: httpx.AsyncClient, world: World
) -> None:
    q = (
        "mutation($i: CreateMerchantInput!) { createMerchant(input: $i) "
        "{ merchant { slug parentId } userErrors { code } } }"
    )
    made = await ok(client, q, {"i": {"name": "Tea 2", "slug": "tea-2"}}, key=world.key("agency"))
    assert made["createMerchant"]["merchant"]["parentId"] == ids.encode("Tenant", world.agency_id)
    listed = await ok(
        client, "{ merchants(first: 10) { edges { node { slug } } } }", key=world.key("agency")
    )
    slugs = {e["node"]["slug"] for e in listed["merchants"]["edges"]}
    assert slugs == {"merchant-a", "merchant-b", "tea-2"}
    refused = await ok(client, q, {"i": {"name": "X", "slug": "x-1"}}, key=world.key("a"))
    assert refused["createMerchant"]["userErrors"] == [{"code": "FORBIDDEN"}]


@pytest.mark.parametrize("who", ["a", "c"])
async def test_merchant_key_acts_on_itself_without_merchant_id(
    client: httpx.AsyncClient, world: World, who: str
) -> None:
    currency = "JPY" if who == "c" else "CNY"
    txn = await record_txn(client, world.key(who, "INTEGRATION"), currency=currency, amount="100")
    slug = (await _node(client, world.key(who), txn["id"]))["merchant"]["slug"]
    assert slug == f"merchant-{who}"


async def _other_agency_merchant(client: httpx.AsyncClient, world: World) -> uuid.UUID:
    data = await ok(
        client,
        "mutation($i: CreateMerchantInput!) { createMerchant(input: $i) { merchant { id } } }",
        {
            "i": {
                "name": "Far",
                "slug": "far-away",
                "agencyId": ids.encode("Tenant", world.other_agency_id),
            }
        },
        key=world.key("operator"),
    )
    return ids.tenant_id_of(data["createMerchant"]["merchant"]["id"], "id")
