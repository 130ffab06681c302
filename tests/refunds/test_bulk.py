"""Bulk decisions: per-item results, one failure undoes nothing else, idempotent items."""

from __future__ import annotations

from typing import Any

import httpx

from qrefund.graphql_schema import ids
from tests.refunds.api import submitted_case
from tests.refunds.helpers import record_txn
from tests.support.graphql import ok
from tests.support.world import World

BULK = """mutation($input: %(name)sInput!) { %(field)s(input: $input) {
  succeeded failed userErrors { code field }
  results { index refundCase { id status approvedAmount { amount } } userErrors { code } } } }"""


async def bulk(client: httpx.AsyncClient, name: str, key: str, items: list[dict[str, Any]]
               ) -> dict[str, Any]:
    field = name[0].lower() + name[1:]
    data = await ok(client, BULK % {"name": name, "field": field}, {"input": {"items": items}},
                    key=key)
    payload: dict[str, Any] = data[field]
    return payload


async def _cases(client, db, world: World, n: int, who: str = "a") -> list[str]:
    out = []
    for _ in range(n):
        txn = await record_txn(db, world, who)
        out.append((await submitted_case(client, world.key(who, "INTEGRATION"), txn))["id"])
    return out


def codes(payload: dict[str, Any]) -> list[str | None]:
    return [r["userErrors"][0]["code"] if r["userErrors"] else None for r in payload["results"]]


async def test_one_failure_undoes_nothing_of_the_others(client, db, world):
    a1, a2, a3 = await _cases(client, db, world, 3)
    (foreign,) = await _cases(client, db, world, 1, who="c")
    agent = world.key("a", "REFUND_AGENT")
    await bulk(client, "StartRefundReviews", agent, [{"id": c} for c in (a1, a2, a3)])
    await bulk(client, "RejectRefunds", agent, [{"id": a3, "reason": "not eligible"}])
    payload = await bulk(client, "ApproveRefunds", agent, [
        {"id": a1}, {"id": foreign}, {"id": a3}, {"id": "not-an-id"},
        {"id": a2, "amount": "4.00"},
    ])
    assert codes(payload) == [None, "NOT_FOUND", "INVALID_STATE", "NOT_FOUND", None]
    assert (payload["succeeded"], payload["failed"]) == (2, 3)
    assert [r["index"] for r in payload["results"]] == [0, 1, 2, 3, 4]
    assert payload["results"][0]["refundCase"]["status"] == "APPROVED"
    assert payload["results"][4]["refundCase"]["approvedAmount"]["amount"] == "4.00"
    assert payload["results"][1]["refundCase"] is None


async def test_an_agency_works_across_its_merchants(client, db, world):
    (in_a,) = await _cases(client, db, world, 1, who="a")
    (in_b,) = await _cases(client, db, world, 1, who="b")
    payload = await bulk(client, "StartRefundReviews", world.key("agency"), [
        {"id": in_a, "assignee": "Li Na"}, {"id": in_b, "assignee": "Li Na"}])
    assert codes(payload) == [None, None]
    assert {r["refundCase"]["status"] for r in payload["results"]} == {"UNDER_REVIEW"}
    # A merchant's key reaches only its own.
    payload = await bulk(client, "RejectRefunds", world.key("a", "REFUND_AGENT"), [
        {"id": in_a, "reason": "no"}, {"id": in_b, "reason": "no"}])
    assert codes(payload) == [None, "NOT_FOUND"]


async def test_items_are_idempotent_so_a_retried_batch_pays_nothing_twice(client, db, world):
    c1, c2 = await _cases(client, db, world, 2)
    agent = world.key("a", "REFUND_AGENT")
    await bulk(client, "StartRefundReviews", agent, [{"id": c1}, {"id": c2}])
    items = [{"id": c1, "amount": "3.00", "idempotencyKey": "batch-7-1"},
             {"id": c2, "idempotencyKey": "batch-7-2"}]
    first = await bulk(client, "ApproveRefunds", agent, items)
    again = await bulk(client, "ApproveRefunds", agent, items)
    assert codes(first) == codes(again) == [None, None]
    assert first["results"] == again["results"]
    reused = await bulk(client, "ApproveRefunds", agent, [
        {"id": c1, "amount": "2.00", "idempotencyKey": "batch-7-1"}])
    assert codes(reused) == ["IDEMPOTENCY_KEY_REUSED"]


async def test_refusals_of_the_batch_and_of_the_role(client, db, world, owner_engine):
    from tests.foundation.helpers import row_counts

    (case,) = await _cases(client, db, world, 1)
    agent = world.key("a", "REFUND_AGENT")
    await bulk(client, "StartRefundReviews", agent, [{"id": case}])
    before = row_counts(owner_engine)
    too_many = await bulk(client, "ApproveRefunds", agent, [{"id": case}] * 101)
    assert too_many["userErrors"] == [{"code": "TOO_MANY", "field": ["items"]}]
    assert too_many["results"] == []
    empty = await bulk(client, "ApproveRefunds", agent, [])
    assert empty["userErrors"] == [{"code": "REQUIRED", "field": ["items"]}]
    viewer = await bulk(client, "ApproveRefunds", world.key("a", "VIEWER"), [{"id": case}])
    assert codes(viewer) == ["FORBIDDEN"]
    bad = await bulk(client, "RejectRefunds", agent, [{"id": case, "reason": "x" * 20_000}])
    assert codes(bad) == ["TOO_LONG"]
    assert row_counts(owner_engine) == before
    assert ids.decode(case, "RefundCase")  # the case is untouched and still ours


ASSIGN = """mutation($input: AssignRefundCasesInput!) { assignRefundCases(input: $input) {
  succeeded failed userErrors { code field }
  results { index refundCase { id status assignee } userErrors { code } } } }"""


async def test_assigning_moves_open_cases_and_leaves_their_status(client, db, world):
    c1, c2, c3 = await _cases(client, db, world, 3)
    agent = world.key("a", "REFUND_AGENT")
    await bulk(client, "StartRefundReviews", agent, [{"id": c2}, {"id": c3}])
    await bulk(client, "RejectRefunds", agent, [{"id": c3, "reason": "no"}])
    data = await ok(client, ASSIGN, {"input": {"ids": [c1, c2, c3], "assignee": "Wang Wei"}},
                    key=world.key("agency"))
    payload = data["assignRefundCases"]
    assert codes(payload) == [None, None, "INVALID_STATE"]
    assert [(r["refundCase"] or {}).get("status") for r in payload["results"]] == [
        "SUBMITTED", "UNDER_REVIEW", None]
    assert {r["refundCase"]["assignee"] for r in payload["results"][:2]} == {"Wang Wei"}
    blank = await ok(client, ASSIGN, {"input": {"ids": [c1], "assignee": "  "}}, key=agent)
    assert codes(blank["assignRefundCases"]) == ["REQUIRED"]
    none = await ok(client, ASSIGN, {"input": {"ids": [], "assignee": "x"}}, key=agent)
    assert none["assignRefundCases"]["userErrors"] == [{"code": "REQUIRED", "field": ["ids"]}]
