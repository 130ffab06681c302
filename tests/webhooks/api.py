"""GraphQL documents and small helpers for webhook tests."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.graphql import ok

ENDPOINT_FIELDS = """id url eventTypes status ownerId merchantId consecutiveFailures disabledReason
  previousSecretExpiresAt"""
ERRORS = "userErrors { code field message }"

CREATE = f"""mutation($i: CreateWebhookEndpointInput!) {{ createWebhookEndpoint(input: $i) {{
  webhookEndpoint {{ {ENDPOINT_FIELDS} }} secret {ERRORS} }} }}"""
DISABLE = f"""mutation($i: DisableWebhookEndpointInput!) {{ disableWebhookEndpoint(input: $i) {{
  webhookEndpoint {{ {ENDPOINT_FIELDS} }} {ERRORS} }} }}"""
ENABLE = f"""mutation($i: EnableWebhookEndpointInput!) {{ enableWebhookEndpoint(input: $i) {{
  webhookEndpoint {{ {ENDPOINT_FIELDS} }} {ERRORS} }} }}"""
ROTATE = f"""mutation($i: RotateWebhookSecretInput!) {{ rotateWebhookSecret(input: $i) {{
  webhookEndpoint {{ {ENDPOINT_FIELDS} }} secret {ERRORS} }} }}"""
REDELIVER = f"""mutation($i: RedeliverWebhookEventInput!) {{ redeliverWebhookEvent(input: $i) {{
  webhookDelivery {{ id status attempt nextRetryAt }} {ERRORS} }} }}"""
ENDPOINTS = f"""query($first: Int, $after: String, $tenantId: ID, $status: WebhookEndpointStatus) {{
  webhookEndpoints(first: $first, after: $after, tenantId: $tenantId, status: $status) {{
    edges {{ node {{ {ENDPOINT_FIELDS} owner {{ slug }} merchant {{ slug }} }} cursor }}
    pageInfo {{ hasNextPage endCursor }} }} }}"""
DELIVERIES = """query($e: ID!, $status: [WebhookDeliveryStatus!]) {
  webhookDeliveries(endpointId: $e, status: $status) { totalCount edges { node {
    id eventId eventType status attempt statusCode latencyMs error lastAttemptAt nextRetryAt
    retryUntil deliveredAt payload endpointId endpoint { id url }
    attempts { number trigger outcome statusCode latencyMs error responseExcerpt startedAt }
  } } } }"""


async def create_endpoint(client: httpx.AsyncClient, key: str, url: str,
                          event_types: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    types = ["refund_case.*"] if event_types is None else event_types
    variables = {"i": {"url": url, "eventTypes": types, **extra}}
    payload: dict[str, Any] = (await ok(client, CREATE, variables, key=key))[
        "createWebhookEndpoint"]
    return payload


async def created(client: httpx.AsyncClient, key: str, url: str,
                  event_types: list[str] | None = None, **extra: Any) -> tuple[str, str]:
    """(endpoint id, secret) of an endpoint that must be created."""
    payload = await create_endpoint(client, key, url, event_types, **extra)
    assert payload["userErrors"] == [], payload
    return payload["webhookEndpoint"]["id"], payload["secret"]


async def call(client: httpx.AsyncClient, document: str, key: str, **input: Any) -> dict[str, Any]:
    data = await ok(client, document, {"i": input}, key=key)
    payload: dict[str, Any] = next(iter(data.values()))
    return payload


async def deliveries(client: httpx.AsyncClient, key: str, endpoint_id: str) -> list[dict[str, Any]]:
    data = await ok(client, DELIVERIES, {"e": endpoint_id}, key=key)
    return [e["node"] for e in data["webhookDeliveries"]["edges"]]


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["userErrors"]]
