"""Cross-tenant cases for refund policies and cases (see tests/foundation/cross_tenant.py)."""

from __future__ import annotations

from typing import Any

from tests.foundation.cross_tenant import Case, Expect, Victim
from tests.foundation.helpers import record_txn
from tests.refunds.api import mutate
from tests.support.graphql import ok

_CASE_OUT = "refundCase { id status } userErrors { code field }"


async def _victim_txn(v: Victim) -> dict[str, Any]:
    txn = await record_txn(v.client, v.key, merchantOrderNo="VICTIM-REFUND-ORDER", merchantId=None)
    v.hide("VICTIM-REFUND-ORDER", txn["id"])
    return txn


async def _victim_case(v: Victim, *, review: bool = True) -> str:
    """A case of the victim's, under review (where every decision would be legal)."""
    txn = await _victim_txn(v)
    payload = await mutate(v.client, "SubmitRefundRequest", v.key, transactionId=txn["id"],
                           amount="5.00", reason="QUALITY_ISSUE", channel="API",
                           description="VICTIM-DESCRIPTION")
    case = payload["refundCase"]
    v.hide(case["id"], case["caseNumber"], "VICTIM-DESCRIPTION")
    if review:
        await mutate(v.client, "StartRefundReview", v.key, id=case["id"])
    case_id: str = case["id"]
    return case_id


async def _by_id(v: Victim) -> dict[str, Any]:
    return {"i": {"id": await _victim_case(v)}}


async def _node(v: Victim) -> dict[str, Any]:
    return {"id": await _victim_case(v)}


async def _submitted(v: Victim) -> dict[str, Any]:
    return {"i": {"id": await _victim_case(v, review=False)}}


async def _with(v: Victim, **extra: Any) -> dict[str, Any]:
    return {"i": {"id": await _victim_case(v), **extra}}


async def _submit(v: Victim) -> dict[str, Any]:
    txn = await _victim_txn(v)
    return {"i": {"transactionId": txn["id"], "amount": "1.00", "reason": "OTHER",
                  "channel": "API", "idempotencyKey": "intruder-1"}}


async def _policy_of(v: Victim) -> dict[str, Any]:
    await ok(v.client, """mutation($i: PublishRefundPolicyInput!) { publishRefundPolicy(input: $i)
        { refundPolicy { id } } }""", {"i": {
        "refundWindowDays": 7, "reviewSlaHours": 24, "completionSlaHours": 48,
        "allowPartial": False, "maxRefundsPerTransaction": 3, "allowedMethods": ["ORIGINAL_ROUTE"],
        "consumerText": [{"locale": "en", "conditions": "VICTIM-POLICY-TEXT"}]}}, key=v.key)
    v.hide("VICTIM-POLICY-TEXT")
    return {"m": v.gid}


async def _publish(v: Victim) -> dict[str, Any]:
    return {"i": {"merchantId": v.gid, "refundWindowDays": 1, "reviewSlaHours": 1,
                  "completionSlaHours": 1, "allowPartial": True, "maxRefundsPerTransaction": 1,
                  "allowedMethods": ["ORIGINAL_ROUTE"]}}


async def _cases_filtered(v: Victim) -> dict[str, Any]:
    await _victim_case(v)
    return {"f": {"merchantIds": [v.gid]}}


async def _cases_plain(v: Victim) -> dict[str, Any]:
    await _victim_case(v)
    return {}


def _mutation(field: str, input_type: str) -> str:
    return f"mutation($i: {input_type}!) {{ {field}(input: $i) {{ {_CASE_OUT} }} }}"


async def _extend(v: Victim) -> dict[str, Any]:
    return await _with(v, until="2099-01-01T00:00:00Z", reason="intruder")


async def _reject(v: Victim) -> dict[str, Any]:
    return await _with(v, reason="intruder")


async def _message(v: Victim) -> dict[str, Any]:
    return await _with(v, message="intruder")


async def _approve(v: Victim) -> dict[str, Any]:
    return await _with(v, idempotencyKey="intruder-approve")


async def _awaiting_info(v: Victim) -> dict[str, Any]:
    case_id = await _victim_case(v)
    await mutate(v.client, "RequestRefundInfo", v.key, id=case_id, message="photo please")
    return {"i": {"id": case_id, "message": "intruder"}}


CASES: list[Case] = [
    Case("node", "query($id: ID!) { node(id: $id) { id __typename } }", _node, Expect.NULL,
         name="RefundCase"),
    Case("refundCases", "query($f: RefundCaseFilterInput) { refundCases(filter: $f) "
         "{ totalCount edges { node { id caseNumber } } } }", _cases_filtered, Expect.EMPTY,
         name="merchantIds"),
    Case("refundCases", "{ refundCases { edges { node { id caseNumber description } } } }",
         _cases_plain, Expect.NO_LEAK, name="unfiltered"),
    Case("refundPolicy", "query($m: ID) { refundPolicy(merchantId: $m) { version "
         "consumerText { conditions } } }", _policy_of),
    Case("refundPolicyHistory", "query($m: ID) { refundPolicyHistory(merchantId: $m) { version "
         "consumerText { conditions } } }", _policy_of),
    Case("publishRefundPolicy", "mutation($i: PublishRefundPolicyInput!) { publishRefundPolicy("
         "input: $i) { refundPolicy { id } userErrors { code field } } }", _publish),
    Case("submitRefundRequest", _mutation("submitRefundRequest", "SubmitRefundRequestInput"),
         _submit),
    Case("startRefundReview", _mutation("startRefundReview", "StartRefundReviewInput"),
         _submitted),
    Case("approveRefund", _mutation("approveRefund", "ApproveRefundInput"), _approve),
    Case("rejectRefund", _mutation("rejectRefund", "RejectRefundInput"), _reject),
    Case("requestRefundInfo", _mutation("requestRefundInfo", "RequestRefundInfoInput"), _message),
    Case("provideRefundInfo", _mutation("provideRefundInfo", "ProvideRefundInfoInput"),
         _awaiting_info),
    Case("extendRefundDeadline", _mutation("extendRefundDeadline", "ExtendRefundDeadlineInput"),
         _extend),
    Case("cancelRefund", _mutation("cancelRefund", "CancelRefundInput"), _by_id),
]

ELSEWHERE: dict[str, str] = {
    "publicRefundPolicy": "public (no key), by merchant slug; consumer fields only "
                          "(tests/refunds/test_policies.py)",
}


def _bulk(field: str, input_type: str) -> str:
    # The item's own id is not echoed: it is the victim's, and NO_LEAK looks for it.
    return (f"mutation($i: {input_type}!) {{ {field}(input: $i) {{ succeeded "
            "results { refundCase { id status } userErrors { code } } } }")


async def _bulk_items(v: Victim, **extra: Any) -> dict[str, Any]:
    return {"i": {"items": [{"id": await _victim_case(v), **extra}]}}


async def _bulk_submitted(v: Victim) -> dict[str, Any]:
    return {"i": {"items": [{"id": await _victim_case(v, review=False)}]}}


async def _bulk_reject(v: Victim) -> dict[str, Any]:
    return await _bulk_items(v, reason="intruder")


CASES += [
    Case("startRefundReviews", _bulk("startRefundReviews", "StartRefundReviewsInput"),
         _bulk_submitted, Expect.ITEMS_NOT_FOUND),
    Case("approveRefunds", _bulk("approveRefunds", "ApproveRefundsInput"), _bulk_items,
         Expect.ITEMS_NOT_FOUND),
    Case("rejectRefunds", _bulk("rejectRefunds", "RejectRefundsInput"), _bulk_reject,
         Expect.ITEMS_NOT_FOUND),
]


async def _assign_ids(v: Victim) -> dict[str, Any]:
    return {"i": {"ids": [await _victim_case(v)], "assignee": "intruder"}}


CASES.append(Case("assignRefundCases", _bulk("assignRefundCases", "AssignRefundCasesInput"),
                  _assign_ids, Expect.ITEMS_NOT_FOUND))
