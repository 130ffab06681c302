"""Cross-tenant cases for payouts and escalation contacts (see tests/foundation/cross_tenant.py)."""

from __future__ import annotations

import uuid
from typing import Any

from qrefund.graphql_schema import ids
from tests.foundation.cross_tenant import Case, Expect, Victim
from tests.foundation.helpers import record_txn
from tests.refunds.api import mutate
from tests.support.graphql import ok


async def _victim_case(v: Victim) -> str:
    txn = await record_txn(v.client, v.key, merchantOrderNo="VICTIM-PAYOUT-ORDER", merchantId=None)
    payload = await mutate(v.client, "SubmitRefundRequest", v.key, transactionId=txn["id"],
                           amount="5.00", reason="QUALITY_ISSUE", channel="API")
    case = payload["refundCase"]
    v.hide("VICTIM-PAYOUT-ORDER", txn["id"], case["id"], case["caseNumber"])
    case_id: str = case["id"]
    return case_id


async def _retry(v: Victim) -> dict[str, Any]:
    return {"i": {"id": await _victim_case(v), "method": "BANK_TRANSFER",
                  "bankDestination": "6222000011112222", "idempotencyKey": "intruder-retry"}}


async def _payout_node(v: Victim) -> dict[str, Any]:
    return {"id": ids.encode("Payout", v.tenant_id, uuid.uuid4())}


async def _contact(v: Victim) -> dict[str, Any]:
    await ok(v.client, """mutation($i: SetEscalationContactInput!) {
        setEscalationContact(input: $i) { escalationContact { assignee } } }""",
             {"i": {"assignee": "VICTIM-CONTACT"}}, key=v.key)
    v.hide("VICTIM-CONTACT")
    return {"t": v.gid}


async def _set_contact(v: Victim) -> dict[str, Any]:
    return {"i": {"tenantId": v.gid, "assignee": "intruder"}}


CASES: list[Case] = [
    Case("retryRefundPayout", """mutation($i: RetryRefundPayoutInput!) {
        retryRefundPayout(input: $i) { refundCase { id } payout { id }
        userErrors { code field } } }""", _retry),
    Case("node", "query($id: ID!) { node(id: $id) { id __typename } }", _payout_node,
         Expect.NULL, name="Payout"),
    Case("escalationContact", "query($t: ID!) { escalationContact(tenantId: $t) { assignee } }",
         _contact),
    Case("setEscalationContact", """mutation($i: SetEscalationContactInput!) {
        setEscalationContact(input: $i) { escalationContact { assignee }
        userErrors { code field } } }""", _set_contact),
]
