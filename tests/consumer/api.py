"""The consumer's public GraphQL, called as a third-party app does: no key, a token."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.graphql import gql, ok

CASE_FIELDS = """id caseNumber status requestedAmount { amount currency }
  approvedAmount { amount currency } reason method channel description createdAt
  reviewDueAt completionDueAt infoRequest canCancel canProvideInfo contactPhone contactEmail
  timeline { type text actor status note occurredAt }
  notifications { channel recipient subject body status sentAt createdAt }
  evidence { type filename size sha256 url }"""
TICKET_FIELDS = """id ticketNumber status category description refundCaseId createdAt
  firstResponseDueAt resolutionDueAt resolution resolutionNote rating canRate
  messages { body author createdAt }"""
RECEIPT = """query($token: String!, $locale: String) { receipt(token: $token, locale: $locale) {
  merchantName locale expiresAt
  transaction { merchantOrderNo channel status amount { amount currency }
    refundedAmount { amount currency } refundableAmount { amount currency } paidAt payer
    refundWindowEndsAt }
  policy { merchantName merchantSlug version refundWindowDays reviewSlaHours
    completionSlaHours allowPartial allowedMethods allowedReasons
    consumerText { locale conditions steps faq { question answer } } }
  refundCases { CASES } complaints { TICKETS } } }""".replace(
    "CASES", CASE_FIELDS).replace("TICKETS", TICKET_FIELDS)
CASE_MUTATIONS = {"ApplyForRefund", "ProvideRefundInfoByReceipt", "CancelRefundByReceipt"}
MUTATION = """mutation($input: %(name)sInput!) { %(field)s(input: $input) {
  %(object)s { %(fields)s } userErrors { code field message } } }"""


async def receipt(client: httpx.AsyncClient, token: str, locale: str | None = None
                  ) -> dict[str, Any] | None:
    data = await ok(client, RECEIPT, {"token": token, "locale": locale})
    found: dict[str, Any] | None = data["receipt"]
    return found


async def mutate(client: httpx.AsyncClient, name: str, expect_status: int = 200,
                 key: str | None = None, **input: Any) -> dict[str, Any]:
    """Call the public mutation ``name`` (e.g. "ApplyForRefund"); its whole response."""
    field = name[0].lower() + name[1:]
    is_case = name in CASE_MUTATIONS
    doc = MUTATION % {"name": name, "field": field,
                      "object": "refundCase" if is_case else "complaintTicket",
                      "fields": CASE_FIELDS if is_case else TICKET_FIELDS}
    return await gql(client, doc, {"input": input}, key=key, expect_status=expect_status)


async def payload(client: httpx.AsyncClient, name: str, **input: Any) -> dict[str, Any]:
    body = await mutate(client, name, **input)
    assert "errors" not in body, body
    field = name[0].lower() + name[1:]
    found: dict[str, Any] = body["data"][field]
    return found


async def done(client: httpx.AsyncClient, name: str, **input: Any) -> dict[str, Any]:
    """A public mutation that must succeed: the case or ticket it returns."""
    found = await payload(client, name, **input)
    assert found["userErrors"] == [], found
    obj: dict[str, Any] = found["refundCase" if name in CASE_MUTATIONS else "complaintTicket"]
    return obj


async def refused(client: httpx.AsyncClient, name: str, **input: Any) -> tuple[str, list[str]]:
    """A public mutation that must be refused: (code, field) of its one user error."""
    found = await payload(client, name, **input)
    assert found["refundCase" if name in CASE_MUTATIONS else "complaintTicket"] is None
    (error,) = found["userErrors"]
    return error["code"], error["field"]
