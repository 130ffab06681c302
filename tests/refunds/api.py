"""GraphQL documents and calls used by the refund tests."""

from __future__ import annotations

from typing import Any

import httpx

from qrefund.graphql_schema import ids
from qrefund.platform.transactions.models import Transaction
from tests.support.graphql import ok

CASE_FIELDS = """id caseNumber status requestedAmount { amount currency }
  approvedAmount { amount currency } reason channel method reviewDueAt completionDueAt
  nextDueAt escalationLevel assignee decisionNote policyVersion riskFlags"""

MUTATION = """mutation($input: %(name)sInput!) { %(field)s(input: $input) {
  refundCase { %(fields)s } userErrors { code field message } } }"""


def txn_gid(txn: Transaction) -> str:
    return ids.encode("Transaction", txn.tenant_id, txn.id)


async def mutate(client: httpx.AsyncClient, name: str, key: str, **input: Any) -> dict[str, Any]:
    """Call ``<name>`` (e.g. "ApproveRefund") and return its payload."""
    field = name[0].lower() + name[1:]
    doc = MUTATION % {"name": name, "field": field, "fields": CASE_FIELDS}
    data = await ok(client, doc, {"input": input}, key=key)
    payload: dict[str, Any] = data[field]
    return payload


async def submit(client: httpx.AsyncClient, key: str, txn: Transaction, amount: str = "10.00",
                 **extra: Any) -> dict[str, Any]:
    extra.setdefault("reason", "QUALITY_ISSUE")
    extra.setdefault("channel", "API")
    return await mutate(client, "SubmitRefundRequest", key, transactionId=txn_gid(txn),
                        amount=amount, **extra)


async def submitted_case(client: httpx.AsyncClient, key: str, txn: Transaction,
                         amount: str = "10.00", **extra: Any) -> dict[str, Any]:
    payload = await submit(client, key, txn, amount, **extra)
    assert payload["userErrors"] == [], payload
    case: dict[str, Any] = payload["refundCase"]
    return case


def error_code(payload: dict[str, Any]) -> str:
    assert payload["refundCase"] is None, payload
    assert len(payload["userErrors"]) == 1, payload
    code: str = payload["userErrors"][0]["code"]
    return code


async def publish(client: httpx.AsyncClient, key: str, **terms: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "refundWindowDays": 30, "reviewSlaHours": 48, "completionSlaHours": 72,
        "allowPartial": True, "maxRefundsPerTransaction": 5,
        "allowedMethods": ["ORIGINAL_ROUTE", "BANK_TRANSFER"],
    }
    base.update(terms)
    doc = """mutation($input: PublishRefundPolicyInput!) { publishRefundPolicy(input: $input) {
      refundPolicy { id version source ownerId refundWindowDays allowPartial
        maxRefundsPerTransaction allowedReasons evidenceRequiredReasons maxExtensionHours
        autoApproveMaxAmount { amount currency } slaClock feeBearer
        consumerText { locale conditions steps faq { question answer } } }
      userErrors { code field message } } }"""
    data = await ok(client, doc, {"input": base}, key=key)
    payload: dict[str, Any] = data["publishRefundPolicy"]
    return payload
