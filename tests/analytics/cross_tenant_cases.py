"""Cross-tenant cases for refundStats (see tests/foundation/cross_tenant.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from qrefund.platform.clock import utcnow
from tests.foundation.cross_tenant import Case, Expect, Victim
from tests.foundation.helpers import record_txn
from tests.refunds.api import mutate

_STATS = """query($m: [ID!], $from: DateTime!, $to: DateTime!) {
  refundStats(merchantIds: $m, from: $from, to: $to, groupBy: [MERCHANT]) {
    requested requestedAmount { amount currency }
    groups { key { value } requested requestedAmount { amount } } } }"""


async def _period(v: Victim, **extra: Any) -> dict[str, Any]:
    """The victim has a refund of 7.77 today: the attacker must neither see it nor reach
    the victim's figures by naming it."""
    txn = await record_txn(v.client, v.key, merchantOrderNo="VICTIM-STATS-ORDER",
                           merchantId=None)
    await mutate(v.client, "SubmitRefundRequest", v.key, transactionId=txn["id"],
                 amount="7.77", reason="QUALITY_ISSUE", channel="API")
    v.hide("7.77", v.gid)
    now = utcnow()
    return {"from": (now - timedelta(days=30)).isoformat(),
            "to": (now + timedelta(days=1)).isoformat(), **extra}


async def _named(v: Victim) -> dict[str, Any]:
    return await _period(v, m=[v.gid])


CASES: list[Case] = [
    Case("refundStats", _STATS, _named, name="merchantIds"),
    Case("refundStats", _STATS, _period, expect=Expect.NO_LEAK, name="in scope"),
]
