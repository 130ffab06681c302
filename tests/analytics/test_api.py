"""refundStats over HTTP: the shape, refusals, tenancy and roles."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from qrefund.platform.db import Database
from tests.analytics.helpers import at, case_row, store
from tests.support.graphql import gql, ok
from tests.support.world import World

QUERY = """query($m: [ID!], $from: DateTime!, $to: DateTime!, $g: [StatsDimension!],
  $tz: String) {
  refundStats(merchantIds: $m, from: $from, to: $to, groupBy: $g, timezone: $tz) {
    requested approved rejected refunded approvalRate reviewSlaCompliance
    completionSlaCompliance refundedAmount { amount currency } source
    timeToDecision { median p90 }
    groups { key { dimension value } requested refundedAmount { amount currency } }
    complaints { opened repeatRate satisfactionDistribution { rating count } }
  }
}"""
PERIOD = {"from": "2026-03-01T00:00:00+08:00", "to": "2026-03-02T00:00:00+08:00"}


def gid(tenant: Any) -> str:
    from qrefund.graphql_schema import ids

    return str(ids.encode("Tenant", tenant))


async def _cases(db: Database, world: World) -> None:
    t0 = at("2026-03-01T10:00:00+08:00")
    await store(db, world,
                case_row(world.merchant_a, t0, status="REFUNDED", approved_at=t0,
                         approved_minor=1234, refunded_at=t0),
                case_row(world.merchant_b, t0, status="REJECTED", rejected_at=t0),
                case_row(world.merchant_c, t0))


async def test_a_merchant_sees_its_own_figures_grouped(
        client: httpx.AsyncClient, db: Database, world: World) -> None:
    await _cases(db, world)
    data = await ok(client, QUERY, {**PERIOD, "g": ["MERCHANT"]}, key=world.key("a", "VIEWER"))
    stats = data["refundStats"]
    assert (stats["requested"], stats["approved"], stats["refunded"]) == (1, 1, 1)
    assert stats["refundedAmount"] == [{"amount": "12.34", "currency": "CNY"}]
    assert stats["approvalRate"] == 1.0 and stats["source"] == "DIRECT"
    assert stats["timeToDecision"] == {"median": 0.0, "p90": 0.0}
    assert stats["groups"] == [{"key": [{"dimension": "MERCHANT",
                                         "value": gid(world.merchant_a)}],
                                "requested": 1,
                                "refundedAmount": [{"amount": "12.34", "currency": "CNY"}]}]
    assert stats["complaints"]["opened"] == 0
    assert len(stats["complaints"]["satisfactionDistribution"]) == 5


async def test_an_agency_sees_its_merchants_and_no_others(
        client: httpx.AsyncClient, db: Database, world: World) -> None:
    await _cases(db, world)
    data = await ok(client, QUERY, PERIOD, key=world.key("agency"))
    assert (data["refundStats"]["requested"], data["refundStats"]["rejected"]) == (2, 1)
    # the standalone merchant C is not the agency's: not found, as for any foreign id
    body = await gql(client, QUERY, {**PERIOD, "m": [gid(world.merchant_c)]},
                     key=world.key("agency"))
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert body["data"] is None
    other = await ok(client, QUERY, PERIOD, key=world.key("other_agency"))
    assert other["refundStats"]["requested"] == 0


@pytest.mark.parametrize(("variables", "code", "field"), [
    ({"from": "2026-03-01T00:00:00", "to": "2026-03-02T00:00:00Z"}, "INVALID_DATETIME", "from"),
    ({"from": "2026-03-02T00:00:00Z", "to": "2026-03-02T00:00:00Z"}, "INVALID_DATETIME", "to"),
    ({"from": "2025-01-01T00:00:00Z", "to": "2026-03-02T00:00:00Z"}, "OUT_OF_RANGE", "to"),
    ({**PERIOD, "tz": "Mars/Olympus"}, "INVALID_TIMEZONE", "timezone"),
    ({**PERIOD, "g": ["DAY", "STORE", "REASON", "METHOD"]}, "TOO_MANY", "groupBy"),
    ({**PERIOD, "g": ["DAY", "DAY"]}, "INVALID_INPUT", "groupBy"),
    ({**PERIOD, "m": ["not-an-id"]}, "NOT_FOUND", "merchantIds"),
])
async def test_bad_arguments_are_refused_with_a_code_and_field(
        client: httpx.AsyncClient, world: World, variables: dict[str, Any], code: str,
        field: str) -> None:
    body = await gql(client, QUERY, variables, key=world.key("a", "VIEWER"))
    error = body["errors"][0]
    assert (error["extensions"]["code"], error["extensions"]["field"]) == (code, [field])


async def test_the_anonymous_caller_is_refused_and_every_key_role_reads(
        client: httpx.AsyncClient, world: World) -> None:
    anonymous = await gql(client, QUERY, PERIOD, expect_status=401)
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    for role in ("ADMIN", "REFUND_AGENT", "SUPPORT", "VIEWER", "INTEGRATION"):
        data = await ok(client, QUERY, PERIOD, key=world.key("a", role))
        assert data["refundStats"]["requested"] == 0
