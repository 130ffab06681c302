"""Cross-tenant cases for complaint tickets (see tests/foundation/cross_tenant.py)."""

from __future__ import annotations

from typing import Any

from tests.complaints.api import mutate
from tests.foundation.cross_tenant import Case, Expect, Victim
from tests.foundation.helpers import record_txn
from tests.refunds.api import mutate as refund_mutate

_ORDERS = iter(range(1, 10**6))
_OUT = "complaintTicket { id status description } userErrors { code field }"


async def _victim_txn(v: Victim) -> str:
    order = f"VICTIM-COMPLAINT-ORDER-{next(_ORDERS)}"
    txn = await record_txn(v.client, v.key, merchantOrderNo=order)
    v.hide(order, txn["id"])
    txn_id: str = txn["id"]
    return txn_id


async def _victim_case(v: Victim) -> str:
    payload = await refund_mutate(v.client, "SubmitRefundRequest", v.key,
                                  transactionId=await _victim_txn(v), amount="5.00",
                                  reason="QUALITY_ISSUE", channel="API")
    case_id: str = payload["refundCase"]["id"]
    v.hide(case_id, payload["refundCase"]["caseNumber"])
    return case_id


async def _victim_ticket(v: Victim, *, resolved: bool = False) -> str:
    payload = await mutate(v.client, "OpenComplaint", v.key, transactionId=await _victim_txn(v),
                           category="SERVICE", description="VICTIM-COMPLAINT-TEXT",
                           contactEmail="victim@example.com")
    ticket = payload["complaintTicket"]
    v.hide(ticket["id"], ticket["ticketNumber"], "VICTIM-COMPLAINT-TEXT", "v***@example.com")
    if resolved:
        await mutate(v.client, "ResolveComplaint", v.key, id=ticket["id"],
                     resolution="EXPLAINED", note="VICTIM-RESOLUTION")
        v.hide("VICTIM-RESOLUTION")
    ticket_id: str = ticket["id"]
    return ticket_id


async def _with(v: Victim, **extra: Any) -> dict[str, Any]:
    return {"i": {"id": await _victim_ticket(v), **extra}}


async def _resolved(v: Victim, **extra: Any) -> dict[str, Any]:
    return {"i": {"id": await _victim_ticket(v, resolved=True), **extra}}


async def _open_about_txn(v: Victim) -> dict[str, Any]:
    return {"i": {"transactionId": await _victim_txn(v), "category": "SERVICE",
                  "description": "intruder"}}


async def _open_about_case(v: Victim) -> dict[str, Any]:
    return {"i": {"refundCaseId": await _victim_case(v), "category": "REFUND_DELAY",
                  "description": "intruder"}}


async def _node(v: Victim) -> dict[str, Any]:
    return {"id": await _victim_ticket(v)}


async def _list_of(v: Victim) -> dict[str, Any]:
    await _victim_ticket(v)
    return {"f": {"merchantIds": [v.gid]}}


async def _list_by_txn(v: Victim) -> dict[str, Any]:
    await _victim_ticket(v)
    payload = await mutate(v.client, "OpenComplaint", v.key, refundCaseId=await _victim_case(v),
                           category="REFUND_DELAY", description="VICTIM-CASE-COMPLAINT")
    v.hide(payload["complaintTicket"]["id"], "VICTIM-CASE-COMPLAINT")
    return {"f": {"refundCaseId": payload["complaintTicket"]["refundCase"]["id"]}}


async def _list_plain(v: Victim) -> dict[str, Any]:
    await _victim_ticket(v)
    return {}


def _mutation(field: str, input_type: str) -> str:
    return f"mutation($i: {input_type}!) {{ {field}(input: $i) {{ {_OUT} }} }}"


async def _assign(v: Victim) -> dict[str, Any]:
    return await _with(v, assignee="intruder")


async def _reply(v: Victim) -> dict[str, Any]:
    return await _with(v, message="intruder")


async def _note(v: Victim) -> dict[str, Any]:
    return await _with(v, message="intruder", internal=True)


async def _priority(v: Victim) -> dict[str, Any]:
    return await _with(v, priority="URGENT", reason="intruder")


async def _resolve(v: Victim) -> dict[str, Any]:
    return await _with(v, resolution="GOODWILL", note="intruder")


async def _reopen(v: Victim) -> dict[str, Any]:
    return await _resolved(v, reason="intruder")


_LIST = ("query($f: ComplaintTicketFilterInput) { complaintTickets(filter: $f) { totalCount "
         "edges { node { id ticketNumber description } } } }")

CASES: list[Case] = [
    Case("node", "query($id: ID!) { node(id: $id) { id __typename } }", _node, Expect.NULL,
         name="ComplaintTicket"),
    Case("complaintTickets", _LIST, _list_of, name="merchantIds"),
    Case("complaintTickets", _LIST, _list_by_txn, Expect.EMPTY, name="refundCaseId"),
    Case("complaintTickets", "{ complaintTickets { edges { node { id ticketNumber description "
         "messages { body } } } } }", _list_plain, Expect.NO_LEAK, name="unfiltered"),
    Case("openComplaint", _mutation("openComplaint", "OpenComplaintInput"), _open_about_txn,
         name="transaction"),
    Case("openComplaint", _mutation("openComplaint", "OpenComplaintInput"), _open_about_case,
         name="refundCase"),
    Case("assignComplaint", _mutation("assignComplaint", "AssignComplaintInput"), _assign),
    Case("replyToComplaint", _mutation("replyToComplaint", "ReplyToComplaintInput"), _reply,
         name="public"),
    Case("replyToComplaint", _mutation("replyToComplaint", "ReplyToComplaintInput"), _note,
         name="internal"),
    Case("requestComplaintInfo", _mutation("requestComplaintInfo", "RequestComplaintInfoInput"),
         _reply),
    Case("setComplaintPriority", _mutation("setComplaintPriority", "SetComplaintPriorityInput"),
         _priority),
    Case("resolveComplaint", _mutation("resolveComplaint", "ResolveComplaintInput"), _resolve),
    Case("closeComplaint", _mutation("closeComplaint", "CloseComplaintInput"), _resolved),
    Case("reopenComplaint", _mutation("reopenComplaint", "ReopenComplaintInput"), _reopen),
]
