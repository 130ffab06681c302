"""Cross-tenant cases for webhook endpoints and deliveries (tests/foundation/cross_tenant.py)."""

from __future__ import annotations

from typing import Any

from qrefund.graphql_schema import ids
from qrefund.platform.ids import new_id
from tests.foundation.cross_tenant import Case, Expect, Victim
from tests.webhooks.api import created

_OUT = "webhookEndpoint { id url } userErrors { code field }"


async def _victim_endpoint(v: Victim) -> str:
    url = f"http://127.0.0.1:9/victim-hook-{v.name}"
    endpoint_id, secret = await created(v.client, v.key, url)
    v.hide(endpoint_id, secret, url)
    return endpoint_id


async def _create(v: Victim) -> dict[str, Any]:
    return {"i": {"url": "http://127.0.0.1:9/intruder", "eventTypes": ["*"], "merchantId": v.gid}}


async def _by_id(v: Victim) -> dict[str, Any]:
    return {"i": {"id": await _victim_endpoint(v)}}


async def _redeliver(v: Victim) -> dict[str, Any]:
    # A delivery id under the victim's tenant and endpoint: the tenant is checked before
    # the row is looked up. Redelivering another tenant's real delivery is in
    # test_delivery.test_manual_redelivery_sends_the_same_event_again.
    await _victim_endpoint(v)
    return {"i": {"deliveryId": ids.encode("WebhookDelivery", v.tenant_id, new_id())}}


async def _node(v: Victim) -> dict[str, Any]:
    return {"id": await _victim_endpoint(v)}


async def _endpoints_of(v: Victim) -> dict[str, Any]:
    await _victim_endpoint(v)
    return {"t": v.gid}


async def _endpoints(v: Victim) -> dict[str, Any]:
    await _victim_endpoint(v)
    return {}


async def _deliveries(v: Victim) -> dict[str, Any]:
    return {"e": await _victim_endpoint(v)}


def _mutation(field: str, input_type: str, out: str = _OUT) -> str:
    return f"mutation($i: {input_type}!) {{ {field}(input: $i) {{ {out} }} }}"


CASES: list[Case] = [
    Case("createWebhookEndpoint",
         _mutation("createWebhookEndpoint", "CreateWebhookEndpointInput", _OUT + " secret"),
         _create),
    Case("disableWebhookEndpoint", _mutation("disableWebhookEndpoint",
                                             "DisableWebhookEndpointInput"), _by_id),
    Case("enableWebhookEndpoint", _mutation("enableWebhookEndpoint",
                                            "EnableWebhookEndpointInput"), _by_id),
    Case("rotateWebhookSecret",
         _mutation("rotateWebhookSecret", "RotateWebhookSecretInput", _OUT + " secret"), _by_id),
    Case("redeliverWebhookEvent",
         _mutation("redeliverWebhookEvent", "RedeliverWebhookEventInput",
                   "webhookDelivery { id } userErrors { code field }"), _redeliver),
    Case("webhookEndpoints",
         "query($t: ID) { webhookEndpoints(tenantId: $t) { edges { node { id url } } } }",
         _endpoints_of, Expect.EMPTY, name="tenantId"),
    Case("webhookEndpoints", "{ webhookEndpoints { edges { node { id url eventTypes } } } }",
         _endpoints, Expect.NO_LEAK, name="unfiltered"),
    Case("webhookDeliveries",
         "query($e: ID!) { webhookDeliveries(endpointId: $e) "
         "{ totalCount edges { node { id } } } }",
         _deliveries),
    Case("node", "query($id: ID!) { node(id: $id) { id } }", _node, Expect.NULL,
         name="WebhookEndpoint"),
]
