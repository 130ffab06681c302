"""Agency keys restricted to some merchants (createApiKey(merchantIds)), enforced by the
same tenancy wall as every other scope."""

from __future__ import annotations

from typing import Any

import httpx

from qrefund.graphql_schema import ids
from tests.foundation.helpers import RECORD, row_counts, txn_input
from tests.support.graphql import gql, ok
from tests.support.world import World

CREATE_KEY = """mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) {
  apiKey { id role merchantIds } secret userErrors { code field message } } }"""
TXNS = "query($f: TransactionFilterInput) { transactions(filter: $f) { edges { node { id } } } }"
VIEWER = "{ viewer { role tenant { slug kind } } }"
MERCHANTS = "{ merchants { edges { node { id } } } }"


def tenant(tenant_id: Any) -> str:
    return ids.encode("Tenant", tenant_id)


async def restricted_key(client: httpx.AsyncClient, world: World, *merchants: Any,
                         role: str = "ADMIN") -> str:
    data = await ok(client, CREATE_KEY, {"i": {
        "tenantId": tenant(world.agency_id), "name": "desk for A", "role": role,
        "merchantIds": [tenant(m) for m in merchants]}}, key=world.key("agency"))
    payload = data["createApiKey"]
    assert payload["userErrors"] == [], payload
    assert payload["apiKey"]["merchantIds"] == [tenant(m) for m in merchants]
    secret: str = payload["secret"]
    return secret


async def _record(client: httpx.AsyncClient, key: str, merchant: Any) -> dict[str, Any]:
    data = await gql(client, RECORD, {"input": txn_input(merchantId=tenant(merchant))}, key=key)
    return data


async def test_a_restricted_key_sees_and_touches_only_its_merchants(client, db, world):
    key = await restricted_key(client, world, world.merchant_a)
    mine = (await _record(client, key, world.merchant_a))["data"]["recordTransaction"]
    assert mine["userErrors"] == [] and mine["transaction"]["id"]
    other = (await _record(client, world.key("agency"), world.merchant_b))["data"]
    other_id = other["recordTransaction"]["transaction"]["id"]

    # Merchant B is outside: not found, whatever the route.
    refused = (await _record(client, key, world.merchant_b))["data"]["recordTransaction"]
    assert refused["transaction"] is None
    assert refused["userErrors"][0]["code"] == "NOT_FOUND"
    node = await ok(client, "query($id: ID!) { node(id: $id) { id } }", {"id": other_id},
                    key=key)
    assert node["node"] is None
    listed = await ok(client, TXNS, {}, key=key)
    assert [e["node"]["id"] for e in listed["transactions"]["edges"]] == [
        mine["transaction"]["id"]]
    merchants = await ok(client, MERCHANTS, key=key)
    assert [e["node"]["id"] for e in merchants["merchants"]["edges"]] == [
        tenant(world.merchant_a)]


async def test_a_restricted_key_knows_whose_key_it_is_but_not_the_agencys_data(
    client, db, world
):
    key = await restricted_key(client, world, world.merchant_a, world.merchant_b)
    viewer = await ok(client, VIEWER, key=key)
    assert viewer["viewer"]["tenant"] == {"slug": "agency-one", "kind": "AGENCY"}
    # The agency itself is outside the key's scope: its keys, endpoints, new keys for it.
    data = await gql(client, CREATE_KEY, {"i": {
        "tenantId": tenant(world.agency_id), "name": "escape", "role": "ADMIN"}}, key=key)
    assert data["data"]["createApiKey"]["userErrors"][0]["code"] == "NOT_FOUND"
    hooks = await gql(client, """mutation { createWebhookEndpoint(input: {
      url: "https://example.com/h", eventTypes: ["*"] }) {
      webhookEndpoint { id } userErrors { code } } }""", key=key)
    payload = hooks["data"]["createWebhookEndpoint"]
    assert payload["webhookEndpoint"] is None and payload["userErrors"]


async def test_restrictions_are_refused_with_reasons_and_write_nothing(
    client, db, world, owner_engine
):
    before = row_counts(owner_engine)
    cases = [
        # a merchant's key cannot be restricted
        ({"tenantId": tenant(world.merchant_a), "merchantIds": [tenant(world.merchant_a)]},
         "KEY_MERCHANTS_AGENCY_ONLY"),
        ({"tenantId": tenant(world.agency_id), "merchantIds": []}, "REQUIRED"),
        # another agency's merchant, and a made-up id
        ({"tenantId": tenant(world.agency_id), "merchantIds": [tenant(world.merchant_c)]},
         "NOT_FOUND"),
        ({"tenantId": tenant(world.agency_id), "merchantIds": [tenant(world.agency_id)]},
         "NOT_FOUND"),
        ({"tenantId": tenant(world.agency_id), "merchantIds": ["bm9wZQ"]}, "NOT_FOUND"),
    ]
    for fields, code in cases:
        data = await ok(client, CREATE_KEY, {"i": {"name": "k", "role": "VIEWER", **fields}},
                        key=world.key("agency"))
        payload = data["createApiKey"]
        assert payload["apiKey"] is None and payload["secret"] is None, payload
        assert payload["userErrors"][0]["code"] == code, (fields, payload)
        assert payload["userErrors"][0]["field"] == ["merchantIds"], payload
    too_many = [tenant(world.merchant_a)] * 1001
    data = await gql(client, CREATE_KEY, {"i": {"tenantId": tenant(world.agency_id),
                                               "name": "k", "role": "VIEWER",
                                               "merchantIds": too_many}},
                     key=world.key("agency"))
    assert data["data"]["createApiKey"]["userErrors"]
    assert row_counts(owner_engine) == before
