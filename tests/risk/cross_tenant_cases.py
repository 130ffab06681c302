"""Cross-tenant cases for risk flags (see tests/foundation/cross_tenant.py)."""

from __future__ import annotations

from typing import Any

from tests.foundation.cross_tenant import Case, Expect, Victim
from tests.risk.api import flag_list, mismatched_payment

_OUT = "riskFlag { id status note } userErrors { code field }"


async def _victim_flag(v: Victim) -> str:
    """An open AMOUNT_MISMATCH flag of the victim's."""
    txn = await mismatched_payment(v.client, v.key, merchantOrderNo="VICTIM-RISK-ORDER",
                                   merchantId=None)
    flags = await flag_list(v.client, v.key)
    flag_id: str = flags["edges"][0]["node"]["id"]
    v.hide("VICTIM-RISK-ORDER", txn["id"], flag_id)
    return flag_id


async def _node(v: Victim) -> dict[str, Any]:
    return {"id": await _victim_flag(v)}


async def _filtered(v: Victim) -> dict[str, Any]:
    await _victim_flag(v)
    return {"m": [v.gid]}


async def _plain(v: Victim) -> dict[str, Any]:
    await _victim_flag(v)
    return {}


async def _review(v: Victim) -> dict[str, Any]:
    return {"i": {"id": await _victim_flag(v), "note": "intruder"}}


def _mutation(field: str, input_type: str) -> str:
    return f"mutation($i: {input_type}!) {{ {field}(input: $i) {{ {_OUT} }} }}"


CASES: list[Case] = [
    Case("node", "query($id: ID!) { node(id: $id) { id __typename } }", _node, Expect.NULL,
         name="AnomalyFlag"),
    Case("riskFlags", "query($m: [ID!]) { riskFlags(merchantIds: $m) { totalCount "
         "edges { node { id transactionId figures } } } }", _filtered, Expect.NOT_FOUND,
         name="merchantIds"),
    Case("riskFlags", "{ riskFlags { edges { node { id transactionId evidenceTransactionIds "
         "figures } } } }", _plain, Expect.NO_LEAK, name="unfiltered"),
    Case("dismissRiskFlag", _mutation("dismissRiskFlag", "DismissRiskFlagInput"), _review),
    Case("confirmRiskFlag", _mutation("confirmRiskFlag", "ConfirmRiskFlagInput"), _review),
]
