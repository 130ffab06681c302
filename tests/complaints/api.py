"""GraphQL documents and calls used by the complaint tests."""

from __future__ import annotations

from typing import Any

import httpx

from qrefund.graphql_schema import ids
from qrefund.platform.refunds.models import RefundCase
from qrefund.platform.transactions.models import Transaction
from tests.support.graphql import gql, ok

TICKET_FIELDS = """id ticketNumber status priority category description channel assignee team
  firstResponseDueAt resolutionDueAt firstRespondedAt nextDueAt waitingSince escalationLevel
  isRepeat resolution resolutionNote rating reopenCount policyVersion createdAt resolvedAt
  closedAt autoCloseAt overdue priorityReason contactEmailMasked contactPhoneMasked
  repeatOf { id ticketNumber } refundCase { id status } transaction { id }
  followUpRefundCase { id status requestedAmount { amount currency } reason }"""

MUTATION = """mutation($input: %(name)sInput!) { %(field)s(input: $input) {
  complaintTicket { %(fields)s } userErrors { code field message } } }"""


def txn_gid(txn: Transaction) -> str:
    return ids.encode("Transaction", txn.tenant_id, txn.id)


def case_gid(case: RefundCase) -> str:
    return ids.encode("RefundCase", case.tenant_id, case.id)


def ticket_key(ticket: dict[str, Any]) -> tuple[Any, Any]:
    return ids.scoped_id(ticket["id"], "ComplaintTicket")


async def mutate(client: httpx.AsyncClient, name: str, key: str, **input: Any) -> dict[str, Any]:
    """Call ``<name>`` (e.g. "AssignComplaint") and return its payload."""
    field = name[0].lower() + name[1:]
    doc = MUTATION % {"name": name, "field": field, "fields": TICKET_FIELDS}
    data = await ok(client, doc, {"input": input}, key=key)
    payload: dict[str, Any] = data[field]
    return payload


async def done(client: httpx.AsyncClient, name: str, key: str, **input: Any) -> dict[str, Any]:
    """A mutation that must succeed: the ticket it returns."""
    payload = await mutate(client, name, key, **input)
    assert payload["userErrors"] == [], payload
    ticket: dict[str, Any] = payload["complaintTicket"]
    return ticket


async def open_about(client: httpx.AsyncClient, key: str, *, txn: Transaction | None = None,
                     case: RefundCase | None = None, **extra: Any) -> dict[str, Any]:
    """openComplaint about a payment or a case; returns the payload."""
    extra.setdefault("category", "SERVICE")
    extra.setdefault("description", "The cashier was rude about my refund.")
    if txn is not None:
        extra["transactionId"] = txn_gid(txn)
    if case is not None:
        extra["refundCaseId"] = case_gid(case)
    return await mutate(client, "OpenComplaint", key, **extra)


async def opened(client: httpx.AsyncClient, key: str, **kw: Any) -> dict[str, Any]:
    payload = await open_about(client, key, **kw)
    assert payload["userErrors"] == [], payload
    ticket: dict[str, Any] = payload["complaintTicket"]
    return ticket


def error_code(payload: dict[str, Any]) -> str:
    assert payload["complaintTicket"] is None, payload
    assert len(payload["userErrors"]) == 1, payload
    code: str = payload["userErrors"][0]["code"]
    return code


async def node(client: httpx.AsyncClient, key: str, gid: str, fields: str) -> dict[str, Any] | None:
    body = await gql(client, "query($id: ID!) { node(id: $id) { ... on ComplaintTicket { "
                     + fields + " } } }", {"id": gid}, key=key)
    assert "errors" not in body, body
    found: dict[str, Any] | None = body["data"]["node"]
    return found
