"""The complaint terms of refund policies: published with a version (defaults when unset,
bounds checked), never rewritten, and the version a ticket was opened under is the one
its deadlines keep following."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from qrefund.platform.policies.complaint_sla import (
    DEFAULT_FIRST_RESPONSE_HOURS,
    DEFAULT_RESOLUTION_HOURS,
)
from qrefund.platform.policies.models import RefundPolicy
from qrefund.platform.policies.terms import PolicySource, PolicyTerms
from tests.complaints.api import done, opened
from tests.complaints.helpers import rows
from tests.refunds.api import publish
from tests.refunds.helpers import record_txn
from tests.support.graphql import ok

TERMS = """complaintFirstResponseHours { low normal high urgent }
  complaintResolutionHours { low normal high urgent } complaintReopenWindowDays
  complaintAutoCloseDays version"""
HOURS = {"low": 48, "normal": 12, "high": 4, "urgent": 1}


async def current(client, key):
    data = await ok(client, "{ refundPolicy { " + TERMS + " } }", key=key)
    return data["refundPolicy"]


@pytest.mark.parametrize(("terms", "field"), [
    ({"complaintFirstResponseHours": {**HOURS, "urgent": 0}},
     ["complaintFirstResponseHours", "urgent"]),
    ({"complaintFirstResponseHours": {**HOURS, "low": 721}},
     ["complaintFirstResponseHours", "low"]),
    ({"complaintFirstResponseHours": HOURS,
      "complaintResolutionHours": {"low": 48, "normal": 11, "high": 4, "urgent": 1}},
     ["complaintResolutionHours", "normal"]),
    ({"complaintResolutionHours": {"low": 2161, "normal": 120, "high": 72, "urgent": 24}},
     ["complaintResolutionHours", "low"]),
    ({"complaintReopenWindowDays": -1}, ["complaintReopenWindowDays"]),
    ({"complaintReopenWindowDays": 366}, ["complaintReopenWindowDays"]),
    ({"complaintAutoCloseDays": 0}, ["complaintAutoCloseDays"]),
])
async def test_terms_out_of_bounds(client, db, world, terms, field):
    payload = await publish(client, world.key("a"), **terms)
    assert payload["refundPolicy"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("OUT_OF_RANGE", field)]
    assert await rows(db, world, RefundPolicy) == []


async def test_defaults_then_published_terms_and_history(client, db, world):
    default = await current(client, world.key("a", "VIEWER"))
    assert default["complaintFirstResponseHours"] == {"low": 72, "normal": 24, "high": 8,
                                                      "urgent": 2}
    assert (default["complaintReopenWindowDays"], default["complaintAutoCloseDays"]) == (14, 7)
    first = await publish(client, world.key("a"))  # unset: the defaults, stored explicitly
    assert first["userErrors"] == []
    await publish(client, world.key("a"), complaintFirstResponseHours=HOURS,
                  complaintReopenWindowDays=30, complaintAutoCloseDays=3)
    now = await current(client, world.key("a", "VIEWER"))
    assert now["complaintFirstResponseHours"] == HOURS and now["version"] == 2
    assert (now["complaintReopenWindowDays"], now["complaintAutoCloseDays"]) == (30, 3)
    versions = sorted(await rows(db, world, RefundPolicy), key=lambda r: r.version)
    assert versions[0].complaint_first_response_hours == DEFAULT_FIRST_RESPONSE_HOURS.as_dict()
    assert versions[0].complaint_reopen_window_days == 14
    assert versions[1].complaint_first_response_hours == {
        "LOW": 48, "NORMAL": 12, "HIGH": 4, "URGENT": 1}


def test_a_version_published_before_complaint_terms_gets_the_defaults():
    row = RefundPolicy(version=1, owner_kind="MERCHANT", refund_window_days=30,
                       review_sla_hours=48, completion_sla_hours=72, max_extension_hours=0,
                       allow_partial=True, max_refunds_per_transaction=1,
                       allowed_methods=["ORIGINAL_ROUTE"], fee_bearer="MERCHANT",
                       sla_clock="CALENDAR_HOURS", published_by="test")
    terms = PolicyTerms.of(row, PolicySource.MERCHANT)
    assert terms.complaint_first_response_hours == DEFAULT_FIRST_RESPONSE_HOURS
    assert terms.complaint_resolution_hours == DEFAULT_RESOLUTION_HOURS
    assert (terms.complaint_reopen_window_days, terms.complaint_auto_close_days) == (14, 7)


async def test_an_agency_template_sets_its_merchants_terms(client, db, world):
    await publish(client, world.key("agency"), merchantId=None, complaintFirstResponseHours=HOURS)
    ticket = await opened(client, world.key("a", "SUPPORT"), txn=await record_txn(db, world))
    gap = (datetime.fromisoformat(ticket["firstResponseDueAt"])
           - datetime.fromisoformat(ticket["createdAt"]))
    assert gap == timedelta(hours=12)


async def test_a_ticket_keeps_the_version_it_was_opened_under(client, db, world):
    await publish(client, world.key("a"), complaintFirstResponseHours=HOURS)
    ticket = await opened(client, world.key("a", "SUPPORT"), txn=await record_txn(db, world))
    assert ticket["policyVersion"] == 1
    await publish(client, world.key("a"),
                  complaintFirstResponseHours={"low": 2, "normal": 1, "high": 1, "urgent": 1})
    urgent = await done(client, "SetComplaintPriority", world.key("a", "SUPPORT"),
                        id=ticket["id"], priority="HIGH", reason="VIP")
    gap = (datetime.fromisoformat(urgent["firstResponseDueAt"])
           - datetime.fromisoformat(ticket["createdAt"]))
    assert gap == timedelta(hours=4)  # version 1's HIGH, not version 2's
