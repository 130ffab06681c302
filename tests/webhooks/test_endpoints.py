"""Webhook endpoints through the API: refusals first, then create/list/disable/rotate."""

from __future__ import annotations

import ipaddress
from typing import Any

import httpx
import pytest

from qrefund.graphql_schema import ids
from qrefund.platform.config import Settings
from qrefund.platform.crypto import key_ring
from qrefund.platform.db import Database
from qrefund.platform.errors import InvalidInput
from qrefund.platform.outbox.models import DomainEvent
from qrefund.platform.webhooks import service, targets
from qrefund.platform.webhooks.models import WebhookEndpoint
from qrefund.tenants.auth import authenticate
from tests.support.graphql import gql
from tests.support.world import World
from tests.webhooks.api import (
    DELIVERIES,
    DISABLE,
    ENABLE,
    ENDPOINTS,
    ROTATE,
    call,
    codes,
    create_endpoint,
    created,
)
from tests.webhooks.support import owner_count, owner_rows

URL = "http://127.0.0.1:9/hooks"


# -- refusals ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("ftp://example.com/hook", "INVALID_URL"),
        ("http:///nohost", "INVALID_URL"),
        ("https://user:pw@example.com/hook", "INVALID_URL"),
        ("https://example.com/hook#frag", "INVALID_URL"),
        ("not a url at all", "INVALID_URL"),
        ("", "REQUIRED"),
        ("https://example.com/" + "a" * 3000, "TOO_LONG"),
        ("https://no-such-host.invalid/hook", "UNRESOLVABLE_HOST"),
    ],
)
async def test_bad_urls_are_refused_and_nothing_is_written(
    client: httpx.AsyncClient, world: World, owner_engine: Any, url: str, code: str
) -> None:
    before = owner_count(owner_engine, DomainEvent)
    payload = await create_endpoint(client, world.key("a"), url)
    assert codes(payload) == [code]
    assert payload["userErrors"][0]["field"] == ["url"]
    assert payload["webhookEndpoint"] is None and payload["secret"] is None
    assert owner_count(owner_engine, WebhookEndpoint) == 0
    assert owner_count(owner_engine, DomainEvent) == before


@pytest.mark.parametrize(
    "event_types",
    [[], ["api_key.created"], ["tenant.*"], ["refund_case"], ["REFUND_CASE.APPROVED"], [""],
     ["refund_case.approved", "x" * 65], ["refund_case.*"] * 51],
)
async def test_bad_event_types_are_refused(
    client: httpx.AsyncClient, world: World, owner_engine: Any, event_types: list[str]
) -> None:
    payload = await create_endpoint(client, world.key("a"), URL, event_types)
    assert codes(payload)[0] in ("INVALID_EVENT_TYPE", "REQUIRED", "TOO_MANY")
    assert payload["userErrors"][0]["field"] == ["eventTypes"]
    assert owner_count(owner_engine, WebhookEndpoint) == 0


@pytest.mark.parametrize("role", ["REFUND_AGENT", "SUPPORT", "VIEWER", "INTEGRATION"])
async def test_only_admins_manage_endpoints(
    client: httpx.AsyncClient, world: World, owner_engine: Any, role: str
) -> None:
    payload = await create_endpoint(client, world.key("a", role), URL)
    assert codes(payload) == ["FORBIDDEN"]
    endpoint_id, _secret = await created(client, world.key("a"), URL)
    for document in (DISABLE, ENABLE, ROTATE):
        refused = await call(client, document, world.key("a", role), id=endpoint_id)
        assert codes(refused) == ["FORBIDDEN"], document
    assert owner_count(owner_engine, WebhookEndpoint) == 1


async def test_another_tenants_merchant_is_not_found(
    client: httpx.AsyncClient, world: World, owner_engine: Any
) -> None:
    # The agency reaching for a standalone merchant; a merchant for its sibling.
    for who, merchant in (("agency", world.merchant_c), ("a", world.merchant_b)):
        payload = await create_endpoint(client, world.key(who), URL,
                                        merchantId=ids.encode("Tenant", merchant))
        assert codes(payload) == ["NOT_FOUND"]
    assert owner_count(owner_engine, WebhookEndpoint) == 0


async def test_a_duplicate_active_endpoint_is_refused(
    client: httpx.AsyncClient, world: World, owner_engine: Any
) -> None:
    await created(client, world.key("a"), URL)
    payload = await create_endpoint(client, world.key("a"), URL, ["refund_case.approved"])
    assert codes(payload) == ["DUPLICATE_ENDPOINT"]
    assert owner_count(owner_engine, WebhookEndpoint) == 1
    # Another merchant may use the same URL; a limited agency endpoint is another endpoint.
    await created(client, world.key("b"), URL)
    await created(client, world.key("agency"), URL,
                  merchantId=ids.encode("Tenant", world.merchant_a))
    assert owner_count(owner_engine, WebhookEndpoint) == 3


async def test_endpoint_limit(client: httpx.AsyncClient, world: World) -> None:
    for n in range(service.MAX_ENDPOINTS_PER_TENANT):
        await created(client, world.key("c"), f"{URL}/{n}")
    payload = await create_endpoint(client, world.key("c"), f"{URL}/over")
    assert codes(payload) == ["ENDPOINT_LIMIT_REACHED"]


async def test_private_targets_are_refused_unless_allowed(
    db: Database, world: World, settings: Settings, owner_engine: Any
) -> None:
    strict = settings.model_copy(update={"webhook_allow_private_targets": False})
    scope = await authenticate(db, world.key("a"))
    for url in ("http://127.0.0.1:8080/x", "http://localhost/x", "http://10.1.2.3/x",
                "http://169.254.169.254/latest/meta-data", "http://[::1]/x",
                "http://[::ffff:127.0.0.1]/x", "http://100.64.0.1/x", "http://0.0.0.0/x",
                "http://224.0.0.1/x"):
        with pytest.raises(InvalidInput) as refused:
            async with db.unit_of_work(scope) as uow:
                await service.create_endpoint(
                    uow, service.CreateEndpoint(url=url, event_types=["*"]), strict)
        assert refused.value.code == "PRIVATE_TARGET", url
    assert owner_count(owner_engine, WebhookEndpoint) == 0
    # Production also wants TLS.
    production = strict.model_copy(update={"environment": "production"})
    with pytest.raises(InvalidInput) as plain:
        async with db.unit_of_work(scope) as uow:
            await service.create_endpoint(
                uow, service.CreateEndpoint(url="http://93.184.216.34/x", event_types=["*"]),
                production)
    assert plain.value.code == "INVALID_URL"


@pytest.mark.parametrize(
    ("address", "public"),
    [("93.184.216.34", True), ("2606:2800:220:1:248:1893:25c8:1946", True),
     ("127.0.0.1", False), ("10.0.0.1", False), ("172.16.5.4", False), ("192.168.1.1", False),
     ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False), ("::1", False),
     ("fe80::1", False), ("fc00::1", False), ("::ffff:10.0.0.1", False),
     ("2002:0a00:0001::", False),
     ("2001:0000:4136:e378:8000:63bf:3fff:fdd2", False), ("239.1.1.1", False)],
)
def test_address_classification(address: str, public: bool) -> None:
    assert targets.is_public(ipaddress.ip_address(address)) is public


# -- the happy paths -----------------------------------------------------------------------


async def test_create_shows_the_secret_once_and_stores_it_encrypted(
    client: httpx.AsyncClient, world: World, owner_engine: Any
) -> None:
    payload = await create_endpoint(client, world.key("a"), URL,
                                    ["refund_case.approved", "refund_case.*", "refund_case.*"],
                                    description="ERP")
    assert payload["userErrors"] == []
    endpoint, secret = payload["webhookEndpoint"], payload["secret"]
    assert secret.startswith("whsec_") and len(secret) > 40
    assert endpoint["eventTypes"] == ["refund_case.*", "refund_case.approved"]
    assert endpoint["status"] == "ACTIVE"
    assert endpoint["ownerId"] == ids.encode("Tenant", world.merchant_a)
    assert endpoint["merchantId"] is None
    (row,) = owner_rows(owner_engine, WebhookEndpoint)
    assert secret not in row.secret_enc
    assert key_ring().decrypt(row.secret_enc, service.SECRET_PURPOSE) == secret
    listed = await gql(client, ENDPOINTS, {}, key=world.key("a"))
    assert secret not in str(listed)
    created_events = owner_rows(owner_engine, DomainEvent,
                                DomainEvent.type == "webhook_endpoint.created")
    assert len(created_events) == 1 and secret not in str(created_events[0].payload)


async def test_listing_follows_the_tenant_tree(client: httpx.AsyncClient, world: World) -> None:
    a_id, _ = await created(client, world.key("a"), URL)
    b_id, _ = await created(client, world.key("b"), URL)
    agency_id, _ = await created(client, world.key("agency"), URL,
                                 merchantId=ids.encode("Tenant", world.merchant_a))
    c_id, _ = await created(client, world.key("c"), URL)

    async def listed(who: str, **variables: Any) -> set[str]:
        data = (await gql(client, ENDPOINTS, variables, key=world.key(who)))["data"]
        return {e["node"]["id"] for e in data["webhookEndpoints"]["edges"]}

    assert await listed("a") == {a_id}
    assert await listed("agency") == {a_id, b_id, agency_id}
    assert await listed("agency", tenantId=ids.encode("Tenant", world.agency_id)) == {agency_id}
    assert await listed("operator") == {a_id, b_id, agency_id, c_id}
    assert await listed("a", tenantId=ids.encode("Tenant", world.merchant_b)) == set()
    data = (await gql(client, ENDPOINTS, {}, key=world.key("agency")))["data"]
    limited = next(e["node"] for e in data["webhookEndpoints"]["edges"]
                   if e["node"]["id"] == agency_id)
    assert limited["owner"]["slug"] == "agency-one" and limited["merchant"]["slug"] == "merchant-a"
    page = (await gql(client, ENDPOINTS, {"first": 2}, key=world.key("operator")))["data"]
    assert page["webhookEndpoints"]["pageInfo"]["hasNextPage"] is True
    rest = await listed("operator", first=10,
                        after=page["webhookEndpoints"]["pageInfo"]["endCursor"])
    assert len(rest) == 2


async def test_disable_and_enable_are_a_state_machine(
    client: httpx.AsyncClient, world: World, owner_engine: Any
) -> None:
    endpoint_id, _ = await created(client, world.key("a"), URL)
    again = await call(client, ENABLE, world.key("a"), id=endpoint_id)
    assert codes(again) == ["ENDPOINT_ACTIVE"]
    off = await call(client, DISABLE, world.key("a"), id=endpoint_id, reason="maintenance")
    assert off["webhookEndpoint"]["status"] == "DISABLED"
    assert off["webhookEndpoint"]["disabledReason"] == "maintenance"
    twice = await call(client, DISABLE, world.key("a"), id=endpoint_id)
    assert codes(twice) == ["ENDPOINT_DISABLED"]
    on = await call(client, ENABLE, world.key("a"), id=endpoint_id)
    assert on["webhookEndpoint"]["status"] == "ACTIVE"
    assert on["webhookEndpoint"]["disabledReason"] is None
    types = [e.type for e in owner_rows(owner_engine, DomainEvent)
             if e.type.startswith("webhook_endpoint.")]
    assert types.count("webhook_endpoint.disabled") == 1
    assert types.count("webhook_endpoint.enabled") == 1


async def test_rotation_returns_a_new_secret_and_keeps_the_old_for_the_overlap(
    client: httpx.AsyncClient, world: World, owner_engine: Any
) -> None:
    endpoint_id, old = await created(client, world.key("a"), URL)
    for hours in (-1, 169):
        refused = await call(client, ROTATE, world.key("a"), id=endpoint_id, overlapHours=hours)
        assert codes(refused) == ["INVALID_OVERLAP"]
    (row,) = owner_rows(owner_engine, WebhookEndpoint)
    assert row.previous_secret_enc is None
    rotated = await call(client, ROTATE, world.key("a"), id=endpoint_id, overlapHours=2)
    new = rotated["secret"]
    assert new.startswith("whsec_") and new != old
    assert rotated["webhookEndpoint"]["previousSecretExpiresAt"] is not None
    (row,) = owner_rows(owner_engine, WebhookEndpoint)
    ring = key_ring()
    assert ring.decrypt(row.secret_enc, service.SECRET_PURPOSE) == new
    assert ring.decrypt(row.previous_secret_enc, service.SECRET_PURPOSE) == old


async def test_deliveries_of_an_unknown_or_foreign_endpoint_are_not_found(
    client: httpx.AsyncClient, world: World
) -> None:
    endpoint_id, _ = await created(client, world.key("a"), URL)
    wrong_type = ids.encode("Transaction", world.merchant_a, world.merchant_a)
    for key, gid in ((world.key("b"), endpoint_id), (world.key("a"), "bm9wZQ"),
                     (world.key("a"), wrong_type)):
        body = await gql(client, DELIVERIES, {"e": gid}, key=key)
        assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND", body
    data = (await gql(client, DELIVERIES, {"e": endpoint_id}, key=world.key("a")))["data"]
    assert data["webhookDeliveries"] == {"totalCount": 0, "edges": []}


async def test_oversized_description_and_reason_are_refused(
    client: httpx.AsyncClient, world: World, owner_engine: Any
) -> None:
    payload = await create_endpoint(client, world.key("a"), URL, description="d" * 201)
    assert codes(payload) == ["TOO_LONG"] and payload["userErrors"][0]["field"] == ["description"]
    assert owner_count(owner_engine, WebhookEndpoint) == 0
    endpoint_id, _ = await created(client, world.key("a"), URL)
    refused = await call(client, DISABLE, world.key("a"), id=endpoint_id, reason="r" * 10_000)
    assert codes(refused) == ["TOO_LONG"]
    (row,) = owner_rows(owner_engine, WebhookEndpoint)
    assert row.status == "ACTIVE"
