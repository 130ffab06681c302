"""Cross-tenant cases for the events feed (see tests/foundation/cross_tenant.py)."""

from __future__ import annotations

from typing import Any

from tests.foundation.cross_tenant import Case, Expect, Victim
from tests.foundation.helpers import record_txn
from tests.refunds.api import mutate

_FEED = ("query($m: [ID!]) { events(merchantIds: $m) { edges { node { id type subjectId "
         "snapshot } } } }")


async def _victim_events(v: Victim) -> None:
    txn = await record_txn(v.client, v.key, merchantOrderNo="VICTIM-FEED-ORDER",
                           merchantId=None)
    payload = await mutate(v.client, "SubmitRefundRequest", v.key, transactionId=txn["id"],
                           amount="5.00", reason="QUALITY_ISSUE", channel="API")
    case = payload["refundCase"]
    v.hide(case["id"], case["caseNumber"], txn["id"])


async def _named(v: Victim) -> dict[str, Any]:
    await _victim_events(v)
    return {"m": [v.gid]}


async def _all_in_scope(v: Victim) -> dict[str, Any]:
    await _victim_events(v)
    return {}


CASES: list[Case] = [
    Case("events", _FEED, _named, Expect.NOT_FOUND, name="merchantIds"),
    Case("events", _FEED, _all_in_scope, Expect.NO_LEAK, name="in scope"),
]
