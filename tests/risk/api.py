"""GraphQL documents and calls of the risk tests."""

from __future__ import annotations

from typing import Any

import httpx

from tests.foundation.helpers import record_txn
from tests.support.graphql import gql, ok

FLAG_FIELDS = """id rule severity score status subjectType transactionId refundCaseId
  evidenceTransactionIds evidenceRefundCaseIds figures reviewer note merchantId
  merchant { id } createdAt reviewedAt"""

LIST = """query($m: [ID!], $s: RiskFlagStatus, $r: [RiskRule!], $after: String, $first: Int) {
  riskFlags(merchantIds: $m, status: $s, rules: $r, after: $after, first: $first) {
    totalCount edges { cursor node { FIELDS } } pageInfo { hasNextPage endCursor } } }
""".replace("FIELDS", FLAG_FIELDS)

REVIEW = """mutation($i: %(type)sInput!) { %(field)s(input: $i) {
  riskFlag { id status note reviewer } userErrors { code field message } } }"""


async def mismatched_payment(client: httpx.AsyncClient, key: str, **extra: Any
                             ) -> dict[str, Any]:
    """A payment charged 12.50 where the integrator expected 10.00 (an AMOUNT_MISMATCH flag)."""
    fields = {"amount": "12.50", "expectedAmount": "10.00", **extra}
    return await record_txn(client, key, **fields)


async def flag_list(client: httpx.AsyncClient, key: str, **variables: Any) -> dict[str, Any]:
    data = await ok(client, LIST, variables, key=key)
    result: dict[str, Any] = data["riskFlags"]
    return result


async def review(client: httpx.AsyncClient, key: str, action: str, flag_id: str,
                 note: str | None = "checked") -> dict[str, Any]:
    """``action``: "Dismiss" or "Confirm"; the mutation's payload."""
    field = f"{action.lower()}RiskFlag"
    doc = REVIEW % {"type": f"{action}RiskFlag", "field": field}
    body = await gql(client, doc, {"i": {"id": flag_id, "note": note}}, key=key)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"][field]
    return payload
