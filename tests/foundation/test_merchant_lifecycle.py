"""suspendMerchant / reactivateMerchant / closeMerchant: a suspended merchant is
readable and not writable, everywhere; a closed one's keys stop; open cases go on."""

from __future__ import annotations

from typing import Any

import httpx

from qrefund.graphql_schema import ids
from tests.consumer.api import receipt, refused
from tests.consumer.helpers import token_of
from tests.foundation.helpers import RECORD, row_counts, txn_input
from tests.refunds.api import mutate as refund_mutate
from tests.refunds.helpers import record_txn
from tests.support.graphql import gql, ok
from tests.support.world import World

LIFE = """mutation($i: %(name)sInput!) { %(field)s(input: $i) {
  merchant { id status } userErrors { code field message } } }"""
VIEWER = "{ viewer { role tenant { slug status } } }"
TXNS = "{ transactions { edges { node { id } } } }"


async def life(client: httpx.AsyncClient, name: str, key: str, **i: Any) -> dict[str, Any]:
    field = name[0].lower() + name[1:]
    data = await ok(client, LIFE % {"name": name, "field": field}, {"i": i}, key=key)
    payload: dict[str, Any] = data[field]
    return payload


def merchant(world: World, who: str = "a") -> str:
    return ids.encode("Tenant", {"a": world.merchant_a, "b": world.merchant_b,
                                 "c": world.merchant_c}[who])


async def test_a_suspended_merchant_reads_but_writes_nothing_anywhere(
    client, db, world, owner_engine
):
    txn = await record_txn(db, world)  # a payment from before, with its receipt
    case = (await refund_mutate(client, "SubmitRefundRequest", world.key("a", "INTEGRATION"),
                                transactionId=ids.encode("Transaction", txn.tenant_id, txn.id),
                                amount="5.00", reason="QUALITY_ISSUE", channel="API"))
    done = await life(client, "SuspendMerchant", world.key("agency"), id=merchant(world),
                      reason="contract review")
    assert done["userErrors"] == [] and done["merchant"]["status"] == "SUSPENDED"
    before = row_counts(owner_engine)

    # Its own keys: reads work, writes are refused with a reason.
    assert (await ok(client, VIEWER, key=world.key("a", "VIEWER")))["viewer"]["tenant"] == {
        "slug": "merchant-a", "status": "SUSPENDED"}
    assert (await ok(client, TXNS, key=world.key("a")))["transactions"]["edges"]
    recorded = await gql(client, RECORD, {"input": txn_input()}, key=world.key("a"))
    assert recorded["data"]["recordTransaction"]["userErrors"][0]["code"] == (
        "MERCHANT_SUSPENDED")
    # The agency reads it but cannot write for it either (approve an open case).
    approve = await refund_mutate(client, "StartRefundReview", world.key("agency"),
                                  id=case["refundCase"]["id"])
    assert approve["userErrors"][0]["code"] == "MERCHANT_SUSPENDED"
    # The consumer sees the receipt, files nothing.
    token = token_of(txn)
    assert (await receipt(client, token)) is not None
    code, _ = await refused(client, "ApplyForRefund", receiptToken=token, amount="1.00",
                            reason="OTHER")
    assert code == "MERCHANT_SUSPENDED"
    assert row_counts(owner_engine) == before
    # A sibling merchant is untouched.
    sibling = await gql(client, RECORD, {"input": txn_input()}, key=world.key("b"))
    assert sibling["data"]["recordTransaction"]["userErrors"] == []

    # Reactivated: writes work again.
    back = await life(client, "ReactivateMerchant", world.key("agency"), id=merchant(world))
    assert back["merchant"]["status"] == "ACTIVE"
    again = await gql(client, RECORD, {"input": txn_input()}, key=world.key("a"))
    assert again["data"]["recordTransaction"]["userErrors"] == []


async def test_closing_is_final_and_stops_the_merchants_keys(client, db, world):
    done = await life(client, "CloseMerchant", world.key("agency"), id=merchant(world),
                      reason="left the platform")
    assert done["merchant"]["status"] == "CLOSED"
    response = await client.post("/graphql", json={"query": VIEWER},
                                 headers={"Authorization": f"Bearer {world.key('a')}"})
    assert response.status_code == 401
    # Its agency still reads it; nothing reopens it.
    merchants = await ok(client, "{ merchants { edges { node { id status } } } }",
                         key=world.key("agency"))
    assert {"id": merchant(world), "status": "CLOSED"} in [
        e["node"] for e in merchants["merchants"]["edges"]]
    for name in ("ReactivateMerchant", "SuspendMerchant", "CloseMerchant"):
        payload = await life(client, name, world.key("agency"), id=merchant(world),
                             reason="again")
        assert payload["userErrors"][0]["code"] == "INVALID_STATE", (name, payload)


async def test_who_may_change_a_status(client, db, world, owner_engine):
    before = row_counts(owner_engine)
    cases = [
        (world.key("a"), merchant(world), "FORBIDDEN"),          # the merchant itself
        (world.key("b"), merchant(world), "FORBIDDEN"),          # a sibling (merchant key)
        (world.key("other_agency"), merchant(world), "NOT_FOUND"),  # another agency
        (world.key("agency"), merchant(world, "c"), "NOT_FOUND"),   # not the agency's
        (world.key("agency"), ids.encode("Tenant", world.agency_id), "NOT_FOUND"),  # not a merchant
    ]
    for key, target, code in cases:
        payload = await life(client, "SuspendMerchant", key, id=target, reason="x")
        assert payload["merchant"] is None
        assert payload["userErrors"][0]["code"] == code, (target, payload)
    blank = await life(client, "SuspendMerchant", world.key("agency"), id=merchant(world),
                       reason="   ")
    assert blank["userErrors"][0]["code"] == "REQUIRED"
    long = await life(client, "SuspendMerchant", world.key("agency"), id=merchant(world),
                      reason="x" * 20_000)
    assert long["userErrors"][0]["code"] == "TOO_LONG"
    assert row_counts(owner_engine) == before
    # The operator may, for any merchant; suspending twice is a wrong state.
    assert (await life(client, "SuspendMerchant", world.key("operator"), id=merchant(world, "c"),
                       reason="fraud review"))["merchant"]["status"] == "SUSPENDED"
    twice = await life(client, "SuspendMerchant", world.key("operator"), id=merchant(world, "c"),
                       reason="again")
    assert twice["userErrors"][0]["code"] == "INVALID_STATE"


async def test_the_suspension_says_what_happens_to_open_cases(client, db, world):
    query = """mutation($i: SuspendMerchantInput!) { suspendMerchant(input: $i) {
      merchant { status openCases } userErrors { code } } }"""
    done = await ok(client, query, {"i": {"id": merchant(world), "reason": "audit",
                                          "openCases": "FREEZE"}}, key=world.key("agency"))
    assert done["suspendMerchant"]["merchant"] == {"status": "SUSPENDED", "openCases": "FREEZE"}
    back = await life(client, "ReactivateMerchant", world.key("agency"), id=merchant(world))
    assert back["merchant"]["status"] == "ACTIVE"
    # CONTINUE is the default; anything else is not an OpenCases value (a GraphQL error).
    plain = await ok(client, query, {"i": {"id": merchant(world), "reason": "again"}},
                     key=world.key("agency"))
    assert plain["suspendMerchant"]["merchant"]["openCases"] == "CONTINUE"
    bad = await gql(client, query, {"i": {"id": merchant(world, "b"), "reason": "x",
                                          "openCases": "PAUSE"}}, key=world.key("agency"))
    assert bad.get("errors") and not bad.get("data")
