"""Cross-tenant case for the notifications query (see tests/foundation/cross_tenant.py)."""

from __future__ import annotations

from typing import Any

from tests.foundation.cross_tenant import Case, Victim
from tests.foundation.helpers import record_txn
from tests.support.graphql import ok

_SUBMIT = """mutation($i: SubmitRefundRequestInput!) { submitRefundRequest(input: $i) {
  refundCase { id caseNumber } userErrors { code } } }"""


async def _victim_case(v: Victim) -> dict[str, Any]:
    txn = await record_txn(v.client, v.key, merchantOrderNo="VICTIM-NOTIFY-ORDER", merchantId=None)
    data = await ok(v.client, _SUBMIT, {"i": {"transactionId": txn["id"], "amount": "2.00",
                                              "reason": "OTHER", "channel": "API"}}, key=v.key)
    case = data["submitRefundRequest"]["refundCase"]
    v.hide(case["id"], case["caseNumber"], txn["id"])
    return {"c": case["id"]}


CASES: list[Case] = [
    Case("notifications",
         "query($c: ID!) { notifications(caseId: $c) { edges { node { id body recipient } } } }",
         _victim_case),
]
