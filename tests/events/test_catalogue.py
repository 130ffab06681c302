"""The event catalogue: committed docs match the code; one list of public families."""

from __future__ import annotations

from qrefund.graphql_schema.events.queries import SUBJECT_NODE
from qrefund.platform.events import CATALOGUE, docs
from qrefund.platform.webhooks.service import PUBLIC_EVENT_FAMILIES
from tests.support.event_catalogue import problems


def test_committed_catalogue_matches_the_code():
    for name, text in ((docs.MARKDOWN, docs.markdown()), (docs.SCHEMAS, docs.schemas())):
        committed = (docs.DOCS / name).read_text()
        assert committed == text, f"docs/{name} is stale: run `qrefund export-events`"


def test_webhooks_the_feed_and_subject_ids_offer_the_same_families():
    public = {f.name for f in CATALOGUE if f.public}
    assert public == set(PUBLIC_EVENT_FAMILIES) == set(SUBJECT_NODE)


def test_the_check_refuses_unknown_types_and_wrong_shapes():
    assert problems("refund_case.exploded", {}) == [
        "refund_case.exploded: not in the event catalogue"]
    assert any("required" in p for p in problems("payout.created", {}))
    good = {"payoutId": "6f1c2d0e-0000-4000-8000-000000000000",
            "caseId": "6f1c2d0e-0000-4000-8000-000000000001", "attempt": 1,
            "status": "PENDING", "amountMinor": 100, "currency": "CNY",
            "method": "ORIGINAL_ROUTE", "adapter": "sandbox", "outRefundNo": "QR1",
            "providerRefundId": None, "failureCode": None, "failureReason": None}
    assert problems("payout.created", good) == []
    assert problems("payout.created", {**good, "amountMinor": "1.00"}) != []
    assert problems("payout.created", {**good, "status": "LOST"}) != []
    assert problems("payout.created", {**good, "caseId": "not-a-uuid"}) != []
