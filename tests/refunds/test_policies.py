"""Refund policies: versions, inheritance from an agency's template, defaults, the public
view, validation, and the SLA clocks (calendar and business hours with holidays)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from qrefund.graphql_schema import ids
from qrefund.platform.policies.sla import due_at, shift
from qrefund.platform.policies.terms import DEFAULT_TERMS, PolicySource, PolicyTerms
from tests.refunds.api import publish, submitted_case
from tests.refunds.helpers import record_txn
from tests.support.graphql import gql, ok

CURRENT = """query($m: ID) { refundPolicy(merchantId: $m) { id version source ownerId
  refundWindowDays reviewSlaHours completionSlaHours maxExtensionHours allowPartial
  maxRefundsPerTransaction allowedMethods allowedReasons slaClock feeBearer
  consumerText { locale conditions } } }"""
HISTORY = "query($m: ID) { refundPolicyHistory(merchantId: $m) { version refundWindowDays } }"
PUBLIC = """query($s: String!) { publicRefundPolicy(merchantSlug: $s) { merchantName version
  refundWindowDays reviewSlaHours allowedReasons consumerText { locale conditions
  faq { question answer } } } }"""


def tid(uuid_) -> str:
    return ids.encode("Tenant", uuid_)


async def test_viewer_and_agent_cannot_publish(client, world):
    for role in ("VIEWER", "REFUND_AGENT", "INTEGRATION"):
        payload = await publish(client, world.key("a", role))
        assert payload["userErrors"][0]["code"] == "FORBIDDEN"


async def test_other_tenants_policy_is_not_found(client, world):
    payload = await publish(client, world.key("a"), merchantId=tid(world.merchant_b))
    assert payload["userErrors"][0]["code"] == "NOT_FOUND"
    body = await gql(client, CURRENT, {"m": tid(world.merchant_c)}, key=world.key("agency"))
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(("terms", "code", "field"), [
    ({"refundWindowDays": 0}, "OUT_OF_RANGE", "refundWindowDays"),
    ({"reviewSlaHours": 100, "completionSlaHours": 72}, "OUT_OF_RANGE", "completionSlaHours"),
    ({"maxRefundsPerTransaction": 0}, "OUT_OF_RANGE", "maxRefundsPerTransaction"),
    ({"maxExtensionHours": 10_000}, "OUT_OF_RANGE", "maxExtensionHours"),
    ({"allowedMethods": []}, "REQUIRED", "allowedMethods"),
    ({"allowedReasons": ["OTHER"], "evidenceRequiredReasons": ["QUALITY_ISSUE"]},
     "REASON_NOT_ALLOWED", "evidenceRequiredReasons"),
    ({"businessDayStartHour": 18, "businessDayEndHour": 9}, "OUT_OF_RANGE",
     "businessDayEndHour"),
    ({"autoApproveMaxAmount": "10.001"}, "INVALID_AMOUNT", "autoApproveMaxAmount"),
    ({"consumerText": [{"locale": "fr", "conditions": "x"}]}, "INVALID_LOCALE", None),
    ({"consumerText": [{"locale": "en"}, {"locale": "en"}]}, "DUPLICATE_LOCALE", None),
    ({"consumerText": [{"locale": "en", "conditions": "x" * 5000}]}, "TOO_LONG", None),
])
async def test_invalid_terms_are_refused_and_nothing_is_published(client, world, terms, code,
                                                                  field):
    payload = await publish(client, world.key("a"), **terms)
    assert payload["refundPolicy"] is None
    assert payload["userErrors"][0]["code"] == code, payload
    if field:
        assert payload["userErrors"][0]["field"] == [field]
    data = await ok(client, HISTORY, {}, key=world.key("a"))
    assert data["refundPolicyHistory"] == []


async def test_defaults_until_something_is_published(client, world):
    data = await ok(client, CURRENT, {}, key=world.key("a", "VIEWER"))
    policy = data["refundPolicy"]
    assert policy["id"] is None and policy["version"] == 0 and policy["source"] == "DEFAULT"
    assert (policy["reviewSlaHours"], policy["completionSlaHours"], policy["refundWindowDays"],
            policy["allowPartial"], policy["maxRefundsPerTransaction"]) == (48, 72, 365, True, 50)
    assert {t["locale"] for t in policy["consumerText"]} == {"zh-CN", "en"}


async def test_versions_are_kept_and_cases_keep_theirs(client, db, world):
    key = world.key("a")
    first = await publish(client, key, refundWindowDays=30)
    second = await publish(client, key, refundWindowDays=60, allowedReasons=["OTHER"])
    assert (first["refundPolicy"]["version"], second["refundPolicy"]["version"]) == (1, 2)
    current = (await ok(client, CURRENT, {}, key=key))["refundPolicy"]
    assert (current["version"], current["refundWindowDays"], current["allowedReasons"]) == \
        (2, 60, ["OTHER"])
    history = (await ok(client, HISTORY, {}, key=key))["refundPolicyHistory"]
    assert history == [{"version": 2, "refundWindowDays": 60},
                       {"version": 1, "refundWindowDays": 30}]
    case = await submitted_case(client, world.key("a", "INTEGRATION"), await record_txn(db, world),
                                reason="OTHER")
    assert case["policyVersion"] == 2
    await publish(client, key, refundWindowDays=90)
    data = await ok(client, "query($id: ID!) { node(id: $id) { ... on RefundCase { policyVersion "
                    "policy { version refundWindowDays } } } }", {"id": case["id"]}, key=key)
    assert data["node"] == {"policyVersion": 2, "policy": {"version": 2, "refundWindowDays": 60}}


async def test_agency_template_is_inherited_until_the_merchant_publishes(client, world):
    agency = world.key("agency")
    template = await publish(client, agency, merchantId=tid(world.agency_id), refundWindowDays=14,
                             consumerText=[{"locale": "en", "conditions": "Agency terms"}])
    assert template["refundPolicy"]["source"] == "AGENCY_TEMPLATE"
    for who in ("a", "b"):
        policy = (await ok(client, CURRENT, {}, key=world.key(who, "VIEWER")))["refundPolicy"]
        assert (policy["source"], policy["refundWindowDays"]) == ("AGENCY_TEMPLATE", 14)
        assert policy["ownerId"] == tid(world.agency_id)
    # The agency reads its own template, and its merchants' terms by id.
    own = (await ok(client, CURRENT, {"m": tid(world.agency_id)}, key=agency))["refundPolicy"]
    assert own["source"] == "AGENCY_TEMPLATE"
    await publish(client, world.key("a"), refundWindowDays=7)
    a = (await ok(client, CURRENT, {"m": tid(world.merchant_a)}, key=agency))["refundPolicy"]
    b = (await ok(client, CURRENT, {"m": tid(world.merchant_b)}, key=agency))["refundPolicy"]
    assert (a["source"], a["refundWindowDays"]) == ("MERCHANT", 7)
    assert (b["source"], b["refundWindowDays"]) == ("AGENCY_TEMPLATE", 14)
    # Merchant C has no agency: another agency's template never reaches it.
    c = (await ok(client, CURRENT, {}, key=world.key("c")))["refundPolicy"]
    assert c["source"] == "DEFAULT"


async def test_public_policy_by_slug_needs_no_key(client, world):
    await publish(client, world.key("a"), refundWindowDays=21, autoApproveMaxAmount="50.00",
                  consumerText=[{"locale": "zh-CN", "conditions": "二十一天内可退",
                                 "faq": [{"question": "多久到账?", "answer": "72小时内"}]}])
    data = await ok(client, PUBLIC, {"s": "merchant-a"})
    policy = data["publicRefundPolicy"]
    assert policy["merchantName"] == "Merchant A" and policy["refundWindowDays"] == 21
    assert policy["consumerText"][0]["faq"] == [{"question": "多久到账?", "answer": "72小时内"}]
    assert "autoApprove" not in str(data)
    for slug in ("no-such-merchant", "agency-one", "operator", "x" * 500):
        assert (await ok(client, PUBLIC, {"s": slug}))["publicRefundPolicy"] is None
    # The staff query still needs a key.
    body = await gql(client, CURRENT, {}, expect_status=401)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.postgres_only
async def test_rls_lets_a_merchant_read_only_its_agencys_template(client, world, owner_engine):
    await publish(client, world.key("agency"), merchantId=tid(world.agency_id))
    await publish(client, world.key("other_agency"), merchantId=tid(world.other_agency_id))
    with owner_engine.begin() as conn:
        conn.execute(text("SET LOCAL ROLE qrefund_app"))
        conn.execute(text("SELECT set_config('qrefund.tenant_ids', :t, true)"),
                     {"t": str(world.merchant_a)})
        owners = conn.execute(text("SELECT tenant_id FROM refund_policies")).scalars().all()
        assert owners == [world.agency_id]
        conn.execute(text("SELECT set_config('qrefund.tenant_ids', '', true)"))
        assert conn.execute(text("SELECT count(*) FROM refund_policies")).scalar() == 0


@pytest.mark.postgres_only
async def test_published_versions_and_timelines_are_append_only(client, db, world, owner_engine):
    await publish(client, world.key("a"))
    await submitted_case(client, world.key("a", "INTEGRATION"), await record_txn(db, world))
    for table, change in (("refund_policies", "UPDATE refund_policies SET refund_window_days = 1"),
                          ("refund_case_events", "DELETE FROM refund_case_events")):
        with pytest.raises(Exception, match="append-only"), owner_engine.begin() as conn:
            conn.execute(text(change))
        with owner_engine.begin() as conn:
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 1


# -- SLA clocks ---------------------------------------------------------------------

BUSINESS = PolicyTerms(source=PolicySource.DEFAULT, sla_clock="BUSINESS_HOURS",
                       business_day_start_hour=9, business_day_end_hour=18)
SH = "Asia/Shanghai"


def sh(text_: str) -> datetime:
    return datetime.fromisoformat(text_ + "+08:00")


def test_calendar_hours_are_wall_clock():
    start = datetime(2026, 9, 30, 10, tzinfo=UTC)
    assert due_at(DEFAULT_TERMS, start, 48, SH, "CN") == start + timedelta(hours=48)


def test_business_hours_skip_nights_and_weekends():
    # Friday 2026-11-20 16:00 + 4 working hours -> Monday 11:00 (2 h Friday, 2 h Monday).
    assert due_at(BUSINESS, sh("2026-11-20T16:00:00"), 4, SH, "CN") == sh("2026-11-23T11:00:00")
    # Before opening: counting starts at 09:00.
    assert due_at(BUSINESS, sh("2026-11-24T07:00:00"), 9, SH, "CN") == sh("2026-11-24T18:00:00")


def test_business_hours_skip_public_holidays_and_count_make_up_days():
    # 2026-09-30 (Wed) 17:00 + 2 h: Golden Week (Oct 1-7) is off, and Saturday 2026-10-10
    # is an official make-up working day in China.
    due = due_at(BUSINESS, sh("2026-09-30T17:00:00"), 2, SH, "CN")
    assert due == sh("2026-10-08T10:00:00")
    assert due_at(BUSINESS, sh("2026-10-09T17:00:00"), 2, SH, "CN") == sh("2026-10-10T10:00:00")
    # The same dates in a country without that holiday.
    assert due_at(BUSINESS, sh("2026-09-30T17:00:00"), 2, SH, "GB") == sh("2026-10-01T10:00:00")


def test_pause_shift_counts_only_working_time():
    due = sh("2026-11-23T12:00:00")
    # Paused from Friday 17:00 to Monday 10:00: 2 working hours were lost.
    moved = shift(BUSINESS, due, sh("2026-11-20T17:00:00"), sh("2026-11-23T10:00:00"), SH, "CN")
    assert moved == sh("2026-11-23T14:00:00")
    cal = shift(DEFAULT_TERMS, due, due - timedelta(hours=5), due, SH, "CN")
    assert cal == due + timedelta(hours=5)


async def test_business_clock_policy_sets_due_times_in_the_merchants_zone(client, db, world):
    await publish(client, world.key("c"), slaClock="BUSINESS_HOURS", reviewSlaHours=8,
                  completionSlaHours=16)
    txn = await record_txn(db, world, "c", amount="1000", currency="JPY")
    case = await submitted_case(client, world.key("c", "INTEGRATION"), txn, "100")
    review = datetime.fromisoformat(case["reviewDueAt"]).astimezone(ZoneInfo("Asia/Tokyo"))
    assert review.weekday() < 5 and 9 <= review.hour <= 18
