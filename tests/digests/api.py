"""The digest mutation as a client calls it."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.graphql import ok

SET_DIGEST = """mutation($i: SetDailyDigestInput!) { setDailyDigest(input: $i) {
  tenant { id digestEmailMasked } userErrors { code field message } } }"""


async def set_digest(client: httpx.AsyncClient, key: str, **i: Any) -> dict[str, Any]:
    data = await ok(client, SET_DIGEST, {"i": i}, key=key)
    payload: dict[str, Any] = data["setDailyDigest"]
    return payload
