"""Subscriptions run over WebSocket, which the HTTP walker cannot drive."""

from tests.foundation.cross_tenant import Case

CASES: list[Case] = []

ELSEWHERE = {
    "refundCaseUpdates": "tests/subscriptions/test_refund_case_updates.py::"
    "test_other_tenants_merchant_is_not_found (another tenant's merchant id answers NOT_FOUND)",
    "complaintUpdates": "tests/subscriptions/test_complaint_updates.py::"
    "test_merchants_outside_the_scope_are_not_found (another tenant's merchant id answers "
    "NOT_FOUND) and test_the_scope_decides_whose_events_arrive",
}
