"""retryRefundPayout and RefundCase.payouts over GraphQL, refusals first."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from qrefund.graphql_schema import ids
from qrefund.platform.refunds.models import RefundCase
from qrefund.platform.vocabulary import RefundCaseStatus
from tests.jobs.support import JobHarness, approved_case, fresh_case, payouts_of
from tests.support.graphql import ok
from tests.support.world import World

RETRY = """mutation($input: RetryRefundPayoutInput!) { retryRefundPayout(input: $input) {
  refundCase { id status method bankDestinationMasked }
  payout { id attempt status method outRefundNo destinationMasked amount { amount currency } }
  userErrors { code field message } } }"""

CASE_PAYOUTS = """query($id: ID!) { node(id: $id) { ... on RefundCase { status
  payouts { id attempt status method failureCode failureReason outRefundNo channelCalls
            refundCaseId } } } }"""
PAYOUT_NODE = "query($id: ID!) { node(id: $id) { id ... on Payout { status } } }"


def gid(case: RefundCase) -> str:
    return ids.encode("RefundCase", case.tenant_id, case.id)


async def retry(client: httpx.AsyncClient, key: str, **input: Any) -> dict[str, Any]:
    data = await ok(client, RETRY, {"input": input}, key=key)
    payload: dict[str, Any] = data["retryRefundPayout"]
    return payload


@pytest.fixture
async def failed_case(jobs: JobHarness, world: World) -> RefundCase:
    case = await approved_case(jobs.db, world, "10.66")  # the sandbox: ACCOUNT_CLOSED
    await jobs.drain()
    case = await fresh_case(jobs.db, case)
    assert case.status == RefundCaseStatus.PAYOUT_FAILED
    return case


@pytest.mark.parametrize(("who", "role", "input", "code"), [
    ("a", "VIEWER", {}, "FORBIDDEN"),
    ("a", "INTEGRATION", {}, "FORBIDDEN"),
    ("b", "REFUND_AGENT", {}, "NOT_FOUND"),
    ("c", "ADMIN", {}, "NOT_FOUND"),
    ("other_agency", "ADMIN", {}, "NOT_FOUND"),
    ("a", "REFUND_AGENT", {"method": "BANK_TRANSFER"}, "BANK_DESTINATION_REQUIRED"),
    ("a", "REFUND_AGENT", {"method": "BANK_TRANSFER", "bankDestination": "6" * 121}, "TOO_LONG"),
    ("a", "REFUND_AGENT", {"method": "ORIGINAL_ROUTE", "bankDestination": "62220202"},
     "INVALID_INPUT"),
    ("a", "REFUND_AGENT", {"idempotencyKey": "k" * 129}, "TOO_LONG"),
])
async def test_refusals_leave_nothing_behind(
    client: httpx.AsyncClient, jobs: JobHarness, world: World, failed_case: RefundCase,
    who: str, role: str, input: dict[str, Any], code: str,
) -> None:
    payload = await retry(client, world.key(who, role), id=gid(failed_case), **input)
    assert payload["refundCase"] is None and payload["payout"] is None
    assert [e["code"] for e in payload["userErrors"]] == [code]
    assert len(await payouts_of(jobs.db, failed_case)) == 1
    assert (await fresh_case(jobs.db, failed_case)).status == RefundCaseStatus.PAYOUT_FAILED


async def test_unknown_or_malformed_ids_are_not_found(
    client: httpx.AsyncClient, jobs: JobHarness, world: World, failed_case: RefundCase
) -> None:
    for bad in ("nonsense", ids.encode("Transaction", failed_case.tenant_id, failed_case.id)):
        payload = await retry(client, world.key("a", "REFUND_AGENT"), id=bad)
        assert [e["code"] for e in payload["userErrors"]] == ["NOT_FOUND"]


async def test_only_a_failed_payout_can_be_retried(
    client: httpx.AsyncClient, jobs: JobHarness, world: World
) -> None:
    paid = await approved_case(jobs.db, world, "11.00")
    await jobs.drain()
    payload = await retry(client, world.key("a", "REFUND_AGENT"), id=gid(paid))
    assert [e["code"] for e in payload["userErrors"]] == ["INVALID_STATE"]
    assert len(await payouts_of(jobs.db, paid)) == 1


async def test_retry_by_bank_transfer_pays_with_a_new_attempt(
    client: httpx.AsyncClient, jobs: JobHarness, world: World, failed_case: RefundCase
) -> None:
    payload = await retry(client, world.key("agency"), id=gid(failed_case),
                          method="BANK_TRANSFER", bankDestination="6222 0202 0011 9876")
    assert payload["userErrors"] == []
    assert payload["refundCase"]["status"] == "PROCESSING"
    assert payload["refundCase"]["method"] == "BANK_TRANSFER"
    assert payload["refundCase"]["bankDestinationMasked"] == "****9876"
    new = payload["payout"]
    assert (new["attempt"], new["status"], new["method"]) == (2, "PENDING", "BANK_TRANSFER")
    assert new["destinationMasked"] == "****9876"
    assert new["amount"] == {"amount": "10.66", "currency": "CNY"}

    await jobs.drain()
    assert (await fresh_case(jobs.db, failed_case)).status == RefundCaseStatus.REFUNDED
    first, second = await payouts_of(jobs.db, failed_case)
    assert first.out_refund_no != second.out_refund_no
    assert second.destination_enc and "9876" not in second.destination_enc  # encrypted
    outcomes = sorted(r["outcome"] for r in jobs.sandbox().ledger())
    assert outcomes == ["FAIL_ACCOUNT_CLOSED", "SUCCESS"]  # one refund paid

    data = await ok(client, CASE_PAYOUTS, {"id": gid(failed_case)}, key=world.key("a", "VIEWER"))
    listed = data["node"]["payouts"]
    assert [(p["attempt"], p["status"]) for p in listed] == [(1, "FAILED"), (2, "SUCCEEDED")]
    assert listed[0]["failureCode"] == "ACCOUNT_CLOSED"
    assert {p["refundCaseId"] for p in listed} == {gid(failed_case)}
    payout_node = await ok(client, PAYOUT_NODE, {"id": listed[1]["id"]},
                           key=world.key("a", "VIEWER"))
    assert payout_node["node"]["status"] == "SUCCEEDED"
    hidden = await ok(client, "query($id: ID!) { node(id: $id) { id } }", {"id": listed[1]["id"]},
                      key=world.key("b", "ADMIN"))
    assert hidden["node"] is None


async def test_retry_on_the_same_route_fails_again(
    client: httpx.AsyncClient, jobs: JobHarness, world: World, failed_case: RefundCase
) -> None:
    payload = await retry(client, world.key("a", "REFUND_AGENT"), id=gid(failed_case))
    assert payload["payout"]["method"] == "ORIGINAL_ROUTE"
    await jobs.drain()
    assert (await fresh_case(jobs.db, failed_case)).status == RefundCaseStatus.PAYOUT_FAILED
    assert [p.status for p in await payouts_of(jobs.db, failed_case)] == ["FAILED", "FAILED"]


async def test_idempotency_key_replays_and_refuses_other_input(
    client: httpx.AsyncClient, jobs: JobHarness, world: World, failed_case: RefundCase
) -> None:
    key = world.key("a", "REFUND_AGENT")
    args = {"id": gid(failed_case), "method": "BANK_TRANSFER", "bankDestination": "62220000111",
            "idempotencyKey": "retry-1"}
    first = await retry(client, key, **args)
    again = await retry(client, key, **args)
    assert again["userErrors"] == [] and again["payout"]["id"] == first["payout"]["id"]
    other = await retry(client, key, **{**args, "bankDestination": "62220000222"})
    assert [e["code"] for e in other["userErrors"]] == ["IDEMPOTENCY_KEY_REUSED"]
    assert len(await payouts_of(jobs.db, failed_case)) == 2
    # Without the key, a second retry meets the case in PROCESSING.
    late = await retry(client, key, id=gid(failed_case))
    assert [e["code"] for e in late["userErrors"]] == ["INVALID_STATE"]
