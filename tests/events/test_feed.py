"""The events feed: faithful snapshots, one cursor for every channel, types, scope."""

from __future__ import annotations

from typing import Any

import httpx

from qrefund.graphql_schema import ids
from qrefund.platform.db import Database
from qrefund.platform.refunds import service as refunds
from tests.refunds.helpers import record_txn, scope_of, submit
from tests.support.graphql import gql, ok
from tests.support.world import World

FEED = """query($m: [ID!], $t: [String!], $after: String, $first: Int) {
  events(merchantIds: $m, types: $t, after: $after, first: $first) {
    edges { cursor node { cursor id type occurredAt merchantId subjectId snapshot } }
    pageInfo { hasNextPage endCursor }
  }
}"""


async def feed(client: httpx.AsyncClient, key: str, **variables: Any) -> dict[str, Any]:
    data = await ok(client, FEED, variables, key=key)
    events: dict[str, Any] = data["events"]
    return events


def types_of(page: dict[str, Any]) -> list[str]:
    return [e["node"]["type"] for e in page["edges"]]


async def _refunded_case(db: Database, world: World) -> Any:
    """A case taken through submit → review → approve → processing → refunded."""
    case = await submit(db, world, await record_txn(db, world), amount="12.00")
    agent = await scope_of(db, world, "a", "REFUND_AGENT")
    for step in (refunds.start_review, refunds.approve, refunds.begin_payout,
                 refunds.complete_payout):
        async with db.unit_of_work(agent) as uow:
            await step(uow, case.tenant_id, case.id)
    return case


async def test_each_event_shows_its_subject_as_of_that_event(client, db, world):
    case = await _refunded_case(db, world)
    page = await feed(client, world.key("a", "VIEWER"), t=["refund_case.*"])
    statuses = [(e["node"]["type"], e["node"]["snapshot"]["status"]) for e in page["edges"]]
    assert statuses == [
        ("refund_case.submitted", "SUBMITTED"), ("refund_case.review_started", "UNDER_REVIEW"),
        ("refund_case.approved", "APPROVED"), ("refund_case.processing", "PROCESSING"),
        ("refund_case.refunded", "REFUNDED"),
    ]
    approved = page["edges"][2]["node"]
    assert approved["snapshot"]["approvedMinor"] == 1200
    assert approved["snapshot"]["fromStatus"] == "UNDER_REVIEW"
    assert approved["subjectId"] == ids.encode("RefundCase", case.tenant_id, case.id)
    assert approved["merchantId"] == ids.encode("Tenant", world.merchant_a)
    assert not page["pageInfo"]["hasNextPage"]


async def test_pages_chain_without_gaps_or_repeats(client, db, world):
    await _refunded_case(db, world)
    await _refunded_case(db, world)
    key = world.key("a", "VIEWER")
    everything = types_of(await feed(client, key, first=100))
    seen: list[str] = []
    after = None
    while True:
        page = await feed(client, key, first=3, after=after)
        seen += [e["node"]["id"] for e in page["edges"]]
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
    assert len(seen) == len(set(seen)) == len(everything)
    # Caught up: the end cursor gives an empty page until something new happens.
    assert (await feed(client, key, after=after))["edges"] == []
    case = await submit(db, world, await record_txn(db, world))
    fresh = await feed(client, key, after=after)
    assert types_of(fresh) == ["refund_case.submitted"]
    assert fresh["edges"][0]["node"]["snapshot"]["caseId"] == str(case.id)


async def test_an_event_cursor_resumes_right_after_that_event(client, db, world):
    await _refunded_case(db, world)
    key = world.key("a", "VIEWER")
    page = await feed(client, key, t=["refund_case.*"])
    third = page["edges"][2]["cursor"]
    rest = await feed(client, key, t=["refund_case.*"], after=third)
    assert types_of(rest) == ["refund_case.processing", "refund_case.refunded"]


async def test_type_filters_exact_family_and_everything(client, db, world):
    await _refunded_case(db, world)
    key = world.key("a", "VIEWER")
    assert types_of(await feed(client, key, t=["refund_case.approved"])) == [
        "refund_case.approved"]
    cases = types_of(await feed(client, key, t=["refund_case.*"]))
    assert len(cases) == 5 and all(t.startswith("refund_case.") for t in cases)
    two = types_of(await feed(client, key, t=["refund_case.refunded", "refund_case.approved"]))
    assert two == ["refund_case.approved", "refund_case.refunded"]
    assert types_of(await feed(client, key, t=["refund_case.*", "refund_case.approved"])) == cases
    everything = types_of(await feed(client, key))
    assert everything == types_of(await feed(client, key, t=["*"]))
    # Platform bookkeeping (transactions, keys, endpoints) is not in the feed.
    assert not [t for t in everything if t.split(".")[0] in ("transaction", "api_key")]


async def test_bad_arguments_are_refused_with_a_reason(client, db, world):
    key = world.key("a", "VIEWER")
    for types in (["refund_case.nope"], ["api_key.*"], ["nope.*"], ["x" * 500],
                  ["refund_case.*"] * 51):
        body = await gql(client, FEED, {"t": types}, key=key)
        assert body["errors"][0]["extensions"]["code"] in ("INVALID_INPUT", "TOO_MANY"), body
        assert body["data"] is None
    for first in (0, 501, -1):
        body = await gql(client, FEED, {"first": first}, key=key)
        assert body["errors"][0]["extensions"]["code"] == "INVALID_PAGE_SIZE"
    body = await gql(client, FEED, {"after": "not-a-cursor"}, key=key)
    assert body["errors"][0]["extensions"]["code"] == "INVALID_CURSOR"


async def test_scope_merchants_see_their_own_and_agencies_their_merchants(client, db, world):
    await _refunded_case(db, world)
    await submit(db, world, await record_txn(db, world, "b"), who="b")
    mine = await feed(client, world.key("a", "VIEWER"))
    assert {e["node"]["merchantId"] for e in mine["edges"]} == {
        ids.encode("Tenant", world.merchant_a)}
    agency = await feed(client, world.key("agency"))
    merchants = {e["node"]["merchantId"] for e in agency["edges"]}
    assert merchants == {ids.encode("Tenant", world.merchant_a),
                         ids.encode("Tenant", world.merchant_b)}
    only_b = await feed(client, world.key("agency"),
                        m=[ids.encode("Tenant", world.merchant_b)])
    assert {e["node"]["merchantId"] for e in only_b["edges"]} == {
        ids.encode("Tenant", world.merchant_b)}
    # Another tenant's merchant is not found, for a merchant key and a foreign agency.
    for key in (world.key("a", "VIEWER"), world.key("other_agency")):
        body = await gql(client, FEED, {"m": [ids.encode("Tenant", world.merchant_b)]},
                         key=key)
        assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert (await feed(client, world.key("other_agency")))["edges"] == []
