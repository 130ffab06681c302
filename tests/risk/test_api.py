"""The risk API: flags on payments and cases, riskFlags, dismissRiskFlag/confirmRiskFlag,
riskRules on the policy, and flags holding cases back from auto-approval."""

from __future__ import annotations

from qrefund.graphql_schema import ids
from tests.foundation.helpers import recent_paid_at, record_txn
from tests.refunds.api import publish, submit, submitted_case
from tests.risk.api import flag_list, mismatched_payment, review
from tests.support.graphql import gql, ok

TXN_FLAGS = """query($id: ID!) { node(id: $id) { ... on Transaction { id
  flags { id rule status evidenceTransactionIds figures subjectType } } } }"""
CASE_FLAGS = """query($id: ID!) { node(id: $id) { ... on RefundCase { id status riskFlags
  flags { id rule status evidenceRefundCaseIds } events { type note data } } } }"""


async def test_a_mismatched_payment_shows_its_flag(client, world):
    # Given an integration records a payment charged 12.50 for an order of 10.00
    txn = await mismatched_payment(client, world.key("a", "INTEGRATION"))
    # Then the payment's flags say so, with the payment as evidence
    node = (await ok(client, TXN_FLAGS, {"id": txn["id"]}, key=world.key("a", "VIEWER")))["node"]
    [flag] = node["flags"]
    assert (flag["rule"], flag["status"], flag["subjectType"]) == (
        "AMOUNT_MISMATCH", "OPEN", "TRANSACTION")
    assert flag["evidenceTransactionIds"] == [txn["id"]]
    assert flag["figures"]["expectedMinor"] == 1000 and flag["figures"]["chargedMinor"] == 1250
    # And riskFlags lists it, naming the merchant
    listed = await flag_list(client, world.key("a", "VIEWER"))
    assert listed["totalCount"] == 1
    row = listed["edges"][0]["node"]
    assert row["id"] == flag["id"] and row["merchant"]["id"] == ids.encode(
        "Tenant", world.merchant_a) and row["transactionId"] == txn["id"]


async def test_a_flag_holds_a_case_that_would_be_auto_approved(client, world):
    await publish(client, world.key("a"), autoApproveMaxAmount="50.00")
    key = world.key("a", "INTEGRATION")
    # A clean payment's request is approved by the policy...
    clean = await record_txn(client, key, amount="20.00", paidAt=recent_paid_at())
    approved = await submit(client, key, _row(clean), "5.00")
    assert approved["refundCase"]["status"] == "APPROVED", approved
    # ...while a request on a flagged payment waits for a person, ANOMALY saying why
    flagged = await mismatched_payment(client, key, paidAt=recent_paid_at())
    held = await submit(client, key, _row(flagged), "5.00")
    case = held["refundCase"]
    assert case["status"] == "SUBMITTED" and "ANOMALY" in case["riskFlags"], held


async def test_a_case_flag_is_on_the_case_and_its_timeline(client, world):
    await publish(client, world.key("a"), autoApproveMaxAmount="50.00")
    key = world.key("a", "INTEGRATION")
    cases = []
    for _ in range(3):
        txn = await record_txn(client, key, amount="20.00", paidAt=recent_paid_at())
        cases.append(await submitted_case(client, key, _row(txn), "5.00",
                                          contactPhone="13800001111"))
    assert [c["status"] for c in cases] == ["APPROVED", "APPROVED", "SUBMITTED"]
    node = (await ok(client, CASE_FLAGS, {"id": cases[2]["id"]}, key=world.key("a")))["node"]
    [flag] = node["flags"]
    assert flag["rule"] == "REPEATED_DESTINATION"
    assert flag["evidenceRefundCaseIds"] == [c["id"] for c in cases]
    flagged = [e for e in node["events"] if e["type"] == "flagged"]
    assert flagged and flagged[0]["data"]["rule"] == "REPEATED_DESTINATION"
    assert "13800001111" not in str(node)


def _row(txn: dict) -> object:
    """The transaction as tests.refunds.api.submit wants it (an object with ids)."""
    tenant_id, txn_id = ids.scoped_id(txn["id"], "Transaction")

    class Row:
        pass

    row = Row()
    row.tenant_id, row.id = tenant_id, txn_id  # type: ignore[attr-defined]
    return row


async def test_dismiss_and_confirm_with_a_note(client, world):
    key = world.key("a", "INTEGRATION")
    first = await mismatched_payment(client, key)
    second = await mismatched_payment(client, key)
    flags = {e["node"]["transactionId"]: e["node"]["id"]
             for e in (await flag_list(client, world.key("a")))["edges"]}
    agent = world.key("a", "REFUND_AGENT")
    dismissed = await review(client, agent, "Dismiss", flags[first["id"]], "tip added at till")
    assert dismissed["userErrors"] == [] and dismissed["riskFlag"]["status"] == "DISMISSED"
    assert dismissed["riskFlag"]["note"] == "tip added at till"
    confirmed = await review(client, world.key("a"), "Confirm", flags[second["id"]], "  fraud  ")
    assert confirmed["riskFlag"]["status"] == "CONFIRMED"
    assert confirmed["riskFlag"]["note"] == "fraud"
    # The list filters by status and rule
    open_ = await flag_list(client, world.key("a"), s="OPEN")
    assert open_["totalCount"] == 0
    done = await flag_list(client, world.key("a"), s="DISMISSED", r=["AMOUNT_MISMATCH"])
    assert [e["node"]["id"] for e in done["edges"]] == [flags[first["id"]]]
    assert (await flag_list(client, world.key("a"), r=["QUICK_REFUND"]))["totalCount"] == 0


async def test_review_refusals(client, world):
    await mismatched_payment(client, world.key("a", "INTEGRATION"))
    flag_id = (await flag_list(client, world.key("a")))["edges"][0]["node"]["id"]
    codes = {}
    for label, key, note, gid in (
        ("viewer", world.key("a", "VIEWER"), "x", flag_id),
        ("integration", world.key("a", "INTEGRATION"), "x", flag_id),
        ("support", world.key("a", "SUPPORT"), "x", flag_id),
        ("other tenant", world.key("b"), "x", flag_id),
        ("blank note", world.key("a"), "   ", flag_id),
        ("oversized note", world.key("a"), "x" * 2001, flag_id),
        ("not a flag id", world.key("a"), "x", ids.encode("Tenant", world.merchant_a)),
        ("garbage id", world.key("a"), "x", "not-an-id"),
    ):
        payload = await review(client, key, "Dismiss", gid, note)
        assert payload["riskFlag"] is None, (label, payload)
        codes[label] = payload["userErrors"][0]["code"]
    assert codes == {"viewer": "FORBIDDEN", "integration": "FORBIDDEN", "support": "FORBIDDEN",
                     "other tenant": "NOT_FOUND", "blank note": "REQUIRED",
                     "oversized note": "TOO_LONG", "not a flag id": "NOT_FOUND",
                     "garbage id": "NOT_FOUND"}
    # Nothing was reviewed by any of them; a second review of a reviewed flag is refused
    assert (await review(client, world.key("a"), "Confirm", flag_id))["userErrors"] == []
    again = await review(client, world.key("a"), "Dismiss", flag_id)
    assert [e["code"] for e in again["userErrors"]] == ["FLAG_ALREADY_REVIEWED"]
    assert (await flag_list(client, world.key("a"), s="CONFIRMED"))["totalCount"] == 1


async def test_an_agency_lists_its_merchants_flags(client, world):
    await mismatched_payment(client, world.key("a", "INTEGRATION"))
    await mismatched_payment(client, world.key("b", "INTEGRATION"))
    await mismatched_payment(client, world.key("c", "INTEGRATION"), currency="JPY",
                             amount="1250", expectedAmount="1000")
    agency = world.key("agency")
    both = await flag_list(client, agency)
    merchants = {e["node"]["merchantId"] for e in both["edges"]}
    assert merchants == {ids.encode("Tenant", world.merchant_a),
                         ids.encode("Tenant", world.merchant_b)}
    only_b = await flag_list(client, agency, m=[ids.encode("Tenant", world.merchant_b)])
    assert only_b["totalCount"] == 1
    # Pages: one at a time, the cursor continues
    first = await flag_list(client, agency, first=1)
    assert first["pageInfo"]["hasNextPage"]
    rest = await flag_list(client, agency, first=1, after=first["pageInfo"]["endCursor"])
    assert rest["edges"][0]["node"]["id"] != first["edges"][0]["node"]["id"]
    assert (await flag_list(client, world.key("operator")))["totalCount"] == 3


async def test_list_refusals(client, world):
    too_many = [ids.encode("Tenant", world.merchant_a)] * 201
    body = await gql(client, "query($m: [ID!]) { riskFlags(merchantIds: $m) { totalCount } }",
                     {"m": too_many}, key=world.key("a"))
    assert body["errors"][0]["extensions"]["code"] == "TOO_MANY"
    body = await gql(client, "{ riskFlags(after: \"nonsense\") { totalCount } }",
                     key=world.key("a"))
    assert body["errors"][0]["extensions"]["code"] == "INVALID_CURSOR"
    body = await gql(client, "{ riskFlags { totalCount } }", expect_status=401)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_policy_risk_rules(client, world):
    published = await publish(client, world.key("a"), riskRules=[
        {"rule": "REFUND_VELOCITY", "threshold": "4.5"},
        {"rule": "QUICK_REFUND", "enabled": False}])
    assert published["userErrors"] == []
    data = await ok(client, "{ refundPolicy { riskRules { rule enabled threshold } } }",
                    key=world.key("a"))
    assert data["refundPolicy"]["riskRules"] == [
        {"rule": "QUICK_REFUND", "enabled": False, "threshold": None},
        {"rule": "REFUND_VELOCITY", "enabled": True, "threshold": "4.5"}]
    twice = await publish(client, world.key("a"), riskRules=[
        {"rule": "QUICK_REFUND"}, {"rule": "QUICK_REFUND", "enabled": False}])
    assert [e["code"] for e in twice["userErrors"]] == ["DUPLICATE_RISK_RULE"]
    for bad in ("0", "-1", "1000000000"):
        payload = await publish(client, world.key("a"), riskRules=[
            {"rule": "QUICK_REFUND", "threshold": bad}])
        assert [e["code"] for e in payload["userErrors"]] == ["OUT_OF_RANGE"], bad
