"""What the open internet gets (hardening audit items 7, 11 and 13).

7  production: introspection and "Did you mean" hints for keys only, GraphiQL off;
   rate limits per key, per anonymous address and (harder) per failed key, with 429
   and Retry-After
11 production refuses to start without what it needs, naming each setting
13 GraphQL over HTTP: application/graphql-response+json and its status codes
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from qrefund.app import create_app
from qrefund.platform.config import ConfigurationError, Settings, load_settings
from qrefund.platform.db import Database
from tests.support.world import World

INTROSPECT = "{ __schema { queryType { name } } }"
GRAPHQL_RESPONSE = "application/graphql-response+json"

AppClient = Callable[..., Any]


@pytest.fixture
async def app_client(settings: Settings, db: Database) -> AsyncIterator[AppClient]:
    """Clients of an app built with other settings, each from a fresh client address."""
    clients: list[httpx.AsyncClient] = []

    def make(**changes: Any) -> httpx.AsyncClient:
        app = create_app(settings.model_copy(update=changes), db)
        address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{len(clients) + 1}"
        transport = httpx.ASGITransport(app=app, client=(address, 4242))  # type: ignore[arg-type]
        client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


def _post(client: httpx.AsyncClient, query: str, key: str | None = None,
          **headers: str) -> Any:
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return client.post("/graphql", json={"query": query}, headers=headers)


async def test_production_shows_the_schema_to_keys_only(
    app_client: AppClient, world: World
) -> None:
    client = app_client(environment="production")
    anonymous = await _post(client, INTROSPECT)
    assert anonymous.status_code == 401
    keyed = await _post(client, INTROSPECT, world.key("a", "VIEWER"))
    assert keyed.json() == {"data": {"__schema": {"queryType": {"name": "Query"}}}}
    # No hints for anonymous callers on the public fields either.
    typo = await _post(client, '{ publicRefundPolicy(merchantSlug: "x") { merchantNam } }')
    assert "Did you mean" not in typo.text and "merchantNam" in typo.text
    # GraphiQL is not served.
    page = await client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 404


async def test_development_defaults_stay_open(app_client: AppClient) -> None:
    client = app_client()
    assert (await _post(client, INTROSPECT)).status_code == 200
    page = await client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()


async def test_introspection_off_refuses_everyone(app_client: AppClient, world: World) -> None:
    client = app_client(introspection="off")
    body = (await _post(client, INTROSPECT, world.key("a"))).json()
    assert "introspection" in body["errors"][0]["message"].lower()


async def test_per_key_limit(app_client: AppClient, world: World) -> None:
    client = app_client(rate_limit_per_key="3/minute")
    key = world.key("a", "VIEWER")
    statuses = [(await _post(client, "{ viewer { role } }", key)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = await _post(client, "{ viewer { role } }", key)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    # Another key is not affected.
    assert (await _post(client, "{ viewer { role } }", world.key("b"))).status_code == 200


async def test_anonymous_limit_per_address(app_client: AppClient) -> None:
    client = app_client(rate_limit_anonymous="2/minute")
    statuses = [(await _post(client, "{ __typename }")).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    other = app_client(rate_limit_anonymous="2/minute")  # another address
    assert (await _post(other, "{ __typename }")).status_code == 200


async def test_failed_keys_block_the_address_before_any_lookup(
    app_client: AppClient, world: World
) -> None:
    client = app_client(rate_limit_auth_failures="2/minute")
    bad = "qr_live_" + "0" * 64 + "_guess"
    statuses = [(await _post(client, "{ viewer { role } }", bad)).status_code for _ in range(2)]
    assert statuses == [401, 401]
    # Even a valid key from that address now waits: guessing is throttled, not just failing.
    blocked = await _post(client, "{ viewer { role } }", world.key("a"))
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) >= 1


def test_production_refuses_to_start_without_its_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env file
    for name in list(os.environ):
        if name.startswith("QREFUND_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("QREFUND_ENVIRONMENT", "production")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    for setting in ("QREFUND_ENCRYPTION_KEY", "QREFUND_DATABASE_URL", "QREFUND_REDIS_URL",
                    "QREFUND_PUBLIC_BASE_URL"):
        assert setting in str(caught.value)
    # And the server command stops at once with that message.
    env = {k: v for k, v in os.environ.items() if not k.startswith("QREFUND_")}
    env["QREFUND_ENVIRONMENT"] = "production"
    done = subprocess.run([sys.executable, "-m", "qrefund", "serve"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "QREFUND_ENCRYPTION_KEY" in done.stderr
    monkeypatch.setenv("QREFUND_ENCRYPTION_KEY", "k1:" + "A" * 43)
    monkeypatch.setenv("QREFUND_DATABASE_URL", "postgresql+psycopg://db.internal/qrefund")
    monkeypatch.setenv("QREFUND_REDIS_URL", "redis://redis.internal:6379/0")
    monkeypatch.setenv("QREFUND_PUBLIC_BASE_URL", "https://refunds.example.com")
    assert load_settings().environment == "production"


@pytest.mark.parametrize(("body", "accept", "status"), [
    ({"query": "{ __typename }"}, GRAPHQL_RESPONSE, 200),
    ({"query": "{"}, GRAPHQL_RESPONSE, 400),                       # does not parse
    ({"query": "{ noSuchField }"}, GRAPHQL_RESPONSE, 400),         # does not validate
    ({"query": "query($n: Int!) { __typename }", "variables": {"n": "x"}}, GRAPHQL_RESPONSE, 400),
    ({"notquery": "{ __typename }"}, GRAPHQL_RESPONSE, 400),
    ({"query": "{ __typename }", "operationName": 5}, GRAPHQL_RESPONSE, 400),
    ({"query": "{"}, "application/json", 200),
    ({"notquery": "{ __typename }"}, "application/json", 200),
    ({"query": "{ __typename }", "variables": "x"}, "application/json", 200),
])
async def test_graphql_over_http_status_codes(
    client: httpx.AsyncClient, world: World, body: dict[str, Any], accept: str, status: int
) -> None:
    response = await client.post("/graphql", json=body, headers={
        "Accept": accept, "Authorization": f"Bearer {world.key('a', 'VIEWER')}"})
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(accept)
    payload = response.json()
    if status == 400:
        assert "data" not in payload and payload["errors"], payload
    if body.get("query") != "{ __typename }" or "variables" in body or "operationName" in body:
        assert payload["errors"], payload


async def test_transport_refusals_are_json(client: httpx.AsyncClient) -> None:
    no_type = await client.post("/graphql", content=b"{}")
    assert no_type.status_code == 415
    get_mutation = await client.get("/graphql", params={"query": "mutation { __typename }"},
                                    headers={"Accept": GRAPHQL_RESPONSE})
    assert get_mutation.status_code == 405 and get_mutation.headers["Allow"] == "POST"
    not_json = await client.post("/graphql", content=b'{ "not a JSON',
                                 headers={"Content-Type": "application/json",
                                          "Accept": GRAPHQL_RESPONSE})
    assert not_json.status_code == 400 and not_json.json()["errors"]
