"""The public receipt, walked whole with each of the world's receipt tokens and no key.

Each token's receipt (its payment, policy, a case and a complaint of the world) is
asked for everything it can return; what comes back may name the token's merchant
and nothing of any other tenant, and a token of one merchant never shows another's
order numbers.
"""

from __future__ import annotations

import httpx
import pytest

from tests.fuzz.checks import Inspector
from tests.fuzz.test_nested_walk import SCHEMA, _within_limits, selection
from tests.fuzz.world import Caller, FuzzWorld

ANONYMOUS = Caller("anonymous", None, None)


def _document() -> str:
    return _within_limits(lambda depth: "query($t: String!) { receipt(token: $t) "
                          + selection(SCHEMA.get_type("Receipt"), depth) + " }")


async def test_each_receipt_shows_its_own_payment_and_nothing_else(
        client: httpx.AsyncClient, fuzz_world: FuzzWorld, inspector: Inspector) -> None:
    document = _document()
    assert "refundCases" in document and "complaints" in document
    orders = set()
    for token in fuzz_world.tokens:
        request = {"query": document, "variables": {"t": token}}
        response = await client.post("/graphql", json=request)
        body = response.json()
        assert "errors" not in body, body
        receipt = body["data"]["receipt"]
        assert receipt["refundCases"] and receipt["complaints"], receipt
        inspector.check(ANONYMOUS, response.status_code, response.text, request=request)
        # The check does look: without the token in the request, those ids are a leak
        with pytest.raises(AssertionError, match="was shown"):
            inspector.check(ANONYMOUS, response.status_code, response.text)
        orders.add(receipt["transaction"]["merchantOrderNo"])
    assert len(orders) == len(fuzz_world.tokens) == 3
    assert inspector.hits >= len(fuzz_world.tokens)
