"""Calling the API the way a client does: HTTP POST with a bearer key."""

from __future__ import annotations

import json
from typing import Any

import httpx


async def gql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    key: str | None = None,
    expect_status: int = 200,
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    headers["Content-Type"] = "application/json"
    # ASCII JSON (\uXXXX escapes), as many clients send it: lone surrogates included.
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    response = await client.post("/graphql", content=body, headers=headers)
    assert response.status_code == expect_status, response.text
    body: dict[str, Any] = response.json()
    return body


async def ok(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    key: str | None = None,
) -> dict[str, Any]:
    """Data of a call that must succeed without GraphQL errors."""
    body = await gql(client, query, variables, key)
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data
