"""Bearer keys: 401s with a JSON reason, revocation, expiry, last use, roles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from qrefund.graphql_schema import ids
from qrefund.platform.clock import utcnow
from qrefund.tenants.auth import LAST_USED_RESOLUTION
from tests.foundation.helpers import RECORD, row_counts, txn_input
from tests.support.graphql import gql, ok
from tests.support.world import World

VIEWER_Q = "{ viewer { role tenant { slug kind } } }"
CREATE_KEY = """mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) {
  apiKey { id lastUsedAt expiresAt } secret userErrors { code field message } } }"""
KEY_NODE = "query($id: ID!) { node(id: $id) { ... on ApiKey { lastUsedAt revokedAt } } }"


def _assert_401(response: httpx.Response, reason: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["www-authenticate"].startswith("Bearer")
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert reason in error["message"], error


async def _call(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await client.post("/graphql", json={"query": VIEWER_Q}, headers=headers)


async def test_missing_key_is_401(client: httpx.AsyncClient, world: World) -> None:
    _assert_401(await _call(client, {}), "authentication required")


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("Basic dXNlcjpwYXNz", "Bearer <api key>"),
        ("Bearer ", "Bearer <api key>"),
        ("Bearer not-a-key", "malformed API key"),
        ("Bearer qrk_x_" + "0" * 64 + "_secret", "unknown API key"),
        ("Bearer qrk_" + "x" * 500, "malformed API key"),
    ],
)
async def test_wrong_keys_are_401(
    client: httpx.AsyncClient, world: World, header: str, reason: str
) -> None:
    _assert_401(await _call(client, {"Authorization": header}), reason)


async def test_right_ids_wrong_secret_is_401(client: httpx.AsyncClient, world: World) -> None:
    key = world.key("a")
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    _assert_401(await _call(client, {"Authorization": f"Bearer {forged}"}), "unknown API key")


async def test_each_kind_of_key_sees_its_own_tenant(
    client: httpx.AsyncClient, world: World
) -> None:
    for who, slug, kind in [
        ("operator", "operator", "OPERATOR"),
        ("agency", "agency-one", "AGENCY"),
        ("c", "merchant-c", "MERCHANT"),
    ]:
        data = await ok(client, VIEWER_Q, key=world.key(who))
        assert data["viewer"] == {"role": "ADMIN", "tenant": {"slug": slug, "kind": kind}}
    data = await ok(client, VIEWER_Q, key=world.key("a", "SUPPORT"))
    assert data["viewer"]["role"] == "SUPPORT"


async def _new_key(
    client: httpx.AsyncClient, world: World, expires_at: datetime | None = None
) -> tuple[str, str]:
    variables: dict[str, Any] = {
        "i": {
            "tenantId": ids.encode("Tenant", world.merchant_a),
            "name": "till 3",
            "role": "INTEGRATION",
        }
    }
    if expires_at is not None:
        variables["i"]["expiresAt"] = expires_at.isoformat()
    payload = (await ok(client, CREATE_KEY, variables, key=world.key("a")))["createApiKey"]
    assert payload["userErrors"] == []
    assert payload["apiKey"]["lastUsedAt"] is None
    return payload["apiKey"]["id"], payload["secret"]


async def test_revoked_key_is_401(client: httpx.AsyncClient, world: World) -> None:
    key_id, secret = await _new_key(client, world)
    await ok(client, VIEWER_Q, key=secret)
    data = await ok(
        client,
        "mutation($i: RevokeApiKeyInput!) { revokeApiKey(input: $i) "
        "{ apiKey { revokedAt } userErrors { code } } }",
        {"i": {"id": key_id}},
        key=world.key("a"),
    )
    assert data["revokeApiKey"]["apiKey"]["revokedAt"] is not None
    _assert_401(await _call(client, {"Authorization": f"Bearer {secret}"}), "revoked")


async def test_expired_key_is_401(
    client: httpx.AsyncClient, world: World, owner_engine: Any
) -> None:
    key_id, secret = await _new_key(client, world, expires_at=utcnow() + timedelta(hours=1))
    await ok(client, VIEWER_Q, key=secret)
    _tenant, raw_id = ids.scoped_id(key_id, "ApiKey")
    with owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE api_keys SET expires_at = :t WHERE id = :id"),
            {
                "t": _db_time(owner_engine, utcnow() - timedelta(seconds=1)),
                "id": _db_id(owner_engine, raw_id),
            },
        )
    _assert_401(await _call(client, {"Authorization": f"Bearer {secret}"}), "expired")


async def test_closed_tenant_is_401(
    client: httpx.AsyncClient, world: World, owner_engine: Any
) -> None:
    with owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE tenants SET status = 'CLOSED' WHERE id = :id"),
            {"id": _db_id(owner_engine, world.merchant_a)},
        )
    _assert_401(await _call(client, {"Authorization": f"Bearer {world.key('a')}"}), "not active")


@pytest.mark.parametrize("expires", ["2020-01-01T00:00:00Z", "2030-01-01T00:00:00"])
async def test_key_expiry_must_be_future_and_zoned(
    client: httpx.AsyncClient, world: World, owner_engine: Any, expires: str
) -> None:
    before = row_counts(owner_engine)
    variables = {
        "i": {
            "tenantId": ids.encode("Tenant", world.merchant_a),
            "name": "k",
            "role": "VIEWER",
            "expiresAt": expires,
        }
    }
    payload = (await ok(client, CREATE_KEY, variables, key=world.key("a")))["createApiKey"]
    assert payload["apiKey"] is None and payload["secret"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        ("INVALID_DATETIME", ["expiresAt"])
    ]
    assert row_counts(owner_engine) == before


async def test_last_used_is_recorded_at_most_once_a_minute(
    client: httpx.AsyncClient, world: World, owner_engine: Any
) -> None:
    key_id, secret = await _new_key(client, world)
    await ok(client, VIEWER_Q, key=secret)
    first = await _last_used(client, world, key_id)
    assert first is not None and abs(first - utcnow()) < timedelta(minutes=1)
    await ok(client, VIEWER_Q, key=secret)
    assert await _last_used(client, world, key_id) == first  # reads stay reads
    _tenant, raw_id = ids.scoped_id(key_id, "ApiKey")
    stale = first - LAST_USED_RESOLUTION - timedelta(seconds=5)
    with owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE api_keys SET last_used_at = :t WHERE id = :id"),
            {"t": _db_time(owner_engine, stale), "id": _db_id(owner_engine, raw_id)},
        )
    await ok(client, VIEWER_Q, key=secret)
    later = await _last_used(client, world, key_id)
    assert later is not None and later > stale + LAST_USED_RESOLUTION


async def _last_used(client: httpx.AsyncClient, world: World, key_id: str) -> datetime | None:
    node = (await ok(client, KEY_NODE, {"id": key_id}, key=world.key("operator")))["node"]
    value = node["lastUsedAt"]
    return datetime.fromisoformat(value) if value else None


def _db_id(engine: Any, value: Any) -> Any:
    # SQLite stores UUIDs as 32 hex characters, PostgreSQL as uuid.
    return value.hex if engine.dialect.name == "sqlite" else value


def _db_time(engine: Any, value: datetime) -> Any:
    utc = value.astimezone(UTC)
    return utc.replace(tzinfo=None).isoformat(sep=" ") if engine.dialect.name == "sqlite" else utc


MUTATIONS_FOR_VIEWER = [
    ("recordTransaction", RECORD, lambda w: {"input": txn_input()}),
    (
        "createApiKey",
        CREATE_KEY,
        lambda w: {
            "i": {"tenantId": ids.encode("Tenant", w.merchant_a), "name": "x", "role": "ADMIN"}
        },
    ),
    (
        "createMerchant",
        "mutation($i: CreateMerchantInput!) { createMerchant(input: $i) "
        "{ merchant { id } userErrors { code } } }",
        lambda w: {"i": {"name": "M", "slug": "m-new"}},
    ),
    (
        "createAgency",
        "mutation($i: CreateAgencyInput!) { createAgency(input: $i) "
        "{ agency { id } userErrors { code } } }",
        lambda w: {"i": {"name": "A", "slug": "a-new"}},
    ),
]


@pytest.mark.parametrize(
    ("field", "document", "variables"),
    MUTATIONS_FOR_VIEWER,
    ids=[m[0] for m in MUTATIONS_FOR_VIEWER],
)
async def test_viewer_calling_a_mutation_is_forbidden(
    client: httpx.AsyncClient,
    world: World,
    owner_engine: Any,
    field: str,
    document: str,
    variables: Any,
) -> None:
    before = row_counts(owner_engine)
    body = await gql(client, document, variables(world), key=world.key("a", "VIEWER"))
    assert "errors" not in body, body
    assert [e["code"] for e in body["data"][field]["userErrors"]] == ["FORBIDDEN"]
    assert row_counts(owner_engine) == before


async def test_viewer_cannot_revoke_keys(client: httpx.AsyncClient, world: World) -> None:
    key_id, _secret = await _new_key(client, world)
    data = await ok(
        client,
        "mutation($i: RevokeApiKeyInput!) { revokeApiKey(input: $i) "
        "{ apiKey { id } userErrors { code } } }",
        {"i": {"id": key_id}},
        key=world.key("a", "VIEWER"),
    )
    assert data["revokeApiKey"] == {"apiKey": None, "userErrors": [{"code": "FORBIDDEN"}]}
    node = (await ok(client, KEY_NODE, {"id": key_id}, key=world.key("a")))["node"]
    assert node["revokedAt"] is None


@pytest.mark.parametrize("who", ["agency", "a"])
async def test_only_the_operator_creates_agencies(
    client: httpx.AsyncClient, world: World, who: str
) -> None:
    data = await ok(
        client,
        'mutation { createAgency(input: {name: "X", slug: "x-agency"}) '
        "{ agency { id } userErrors { code } } }",
        key=world.key(who),
    )
    assert data["createAgency"]["userErrors"] == [{"code": "FORBIDDEN"}]
