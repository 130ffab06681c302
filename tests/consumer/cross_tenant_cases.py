"""Cross-tenant cases for the consumer channel (see tests/foundation/cross_tenant.py).

Staff mutations on a receipt take the victim's payment with the attacker's ADMIN key.
The public mutations take a receipt token of the attacker's own merchant ("a", a
payment it just recorded) and the victim's case, ticket or evidence ids: the token
reaches its one payment, so every other id is *not found*.
"""

from __future__ import annotations

from typing import Any

from tests.complaints.api import mutate as complaint_mutate
from tests.foundation.cross_tenant import Case, Victim
from tests.foundation.helpers import record_txn
from tests.refunds.api import mutate as refund_mutate
from tests.support.graphql import ok

_ORDERS = iter(range(1, 10**6))
_CASE_OUT = "refundCase { id status } userErrors { code field }"
_TICKET_OUT = "complaintTicket { id status } userErrors { code field }"
_TXN_OUT = "transaction { id receiptToken } userErrors { code field }"
_OWN = (("a", "b"), ("a", "c"))  # a receipt of merchant A against B's and C's objects
_TOKEN = "{ node(id: $id) { ... on Transaction { receiptToken } } }"


async def _victim_txn(v: Victim) -> str:
    order = f"VICTIM-RECEIPT-ORDER-{next(_ORDERS)}"
    txn = await record_txn(v.client, v.key, merchantOrderNo=order)
    v.hide(order, txn["id"])
    txn_id: str = txn["id"]
    return txn_id


async def _victim_case(v: Victim) -> str:
    payload = await refund_mutate(v.client, "SubmitRefundRequest", v.key,
                                  transactionId=await _victim_txn(v), amount="5.00",
                                  reason="QUALITY_ISSUE", channel="API")
    v.hide(payload["refundCase"]["id"], payload["refundCase"]["caseNumber"])
    case_id: str = payload["refundCase"]["id"]
    return case_id


async def _victim_ticket(v: Victim) -> str:
    payload = await complaint_mutate(v.client, "OpenComplaint", v.key,
                                     transactionId=await _victim_txn(v), category="SERVICE",
                                     description="VICTIM-RECEIPT-COMPLAINT")
    await complaint_mutate(v.client, "ResolveComplaint", v.key,
                           id=payload["complaintTicket"]["id"], resolution="EXPLAINED",
                           note="VICTIM-RECEIPT-RESOLUTION")
    v.hide(payload["complaintTicket"]["id"], "VICTIM-RECEIPT-COMPLAINT",
           "VICTIM-RECEIPT-RESOLUTION")
    ticket_id: str = payload["complaintTicket"]["id"]
    return ticket_id


async def _own_token(v: Victim) -> str:
    """A receipt token of a payment of merchant A (the attacker's own)."""
    txn = await record_txn(v.client, v.world.key("a", "INTEGRATION"))
    data = await ok(v.client, "query($id: ID!) " + _TOKEN, {"id": txn["id"]},
                    key=v.world.key("a"))
    token: str = data["node"]["receiptToken"]
    return token


async def _txn_input(v: Victim) -> dict[str, Any]:
    return {"i": {"transactionId": await _victim_txn(v)}}


async def _on_case(v: Victim, **extra: Any) -> dict[str, Any]:
    return {"i": {"receiptToken": await _own_token(v), "id": await _victim_case(v), **extra}}


async def _provide(v: Victim) -> dict[str, Any]:
    return await _on_case(v, message="intruder")


async def _complain(v: Victim) -> dict[str, Any]:
    return {"i": {"receiptToken": await _own_token(v), "refundCaseId": await _victim_case(v),
                  "category": "OTHER", "description": "intruder"}}


async def _rate(v: Victim) -> dict[str, Any]:
    return {"i": {"receiptToken": await _own_token(v), "id": await _victim_ticket(v),
                  "rating": 1}}


async def _reply(v: Victim) -> dict[str, Any]:
    return {"i": {"receiptToken": await _own_token(v), "id": await _victim_ticket(v),
                  "message": "intruder"}}


def _mutation(field: str, out: str) -> str:
    name = field[0].upper() + field[1:]
    return f"mutation($i: {name}Input!) {{ {field}(input: $i) {{ {out} }} }}"


CASES: list[Case] = [
    Case("reissueReceiptToken", _mutation("reissueReceiptToken", _TXN_OUT), _txn_input),
    Case("revokeReceiptToken", _mutation("revokeReceiptToken", _TXN_OUT), _txn_input),
    Case("provideRefundInfoByReceipt", _mutation("provideRefundInfoByReceipt", _CASE_OUT),
         _provide, pairs=_OWN),
    Case("cancelRefundByReceipt", _mutation("cancelRefundByReceipt", _CASE_OUT), _on_case,
         pairs=_OWN),
    Case("openComplaintByReceipt", _mutation("openComplaintByReceipt", _TICKET_OUT), _complain,
         pairs=_OWN),
    Case("rateComplaint", _mutation("rateComplaint", _TICKET_OUT), _rate, pairs=_OWN),
    Case("replyToComplaintByReceipt", _mutation("replyToComplaintByReceipt", _TICKET_OUT),
         _reply, pairs=_OWN),
]

ELSEWHERE: dict[str, str] = {
    "receipt": "public: the token is the credential and names one payment; a forged, "
               "revoked or another's token is null (tests/consumer/test_public_api.py)",
    "applyForRefund": "public: applies to the token's own payment only; another payment's "
                      "evidence ids are NOT_FOUND (tests/consumer/test_uploads.py)",
    "requestEvidenceUpload": "public: an upload URL for the token's own payment "
                             "(tests/consumer/test_uploads.py)",
}
