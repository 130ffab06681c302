"""groupBy: local days across a DST change and a DST-free zone, weeks, months, and the
dimensions read from the payment."""

from __future__ import annotations

from datetime import timedelta as td

from qrefund.platform.analytics.figures import Dimension as D
from qrefund.platform.analytics.figures import StatsResult
from qrefund.platform.db import Database
from tests.analytics.helpers import add_merchant, at, case_row, operator, stats, store
from tests.support.world import World

SPAN = ("2026-03-27T00:00:00Z", "2026-04-02T00:00:00Z")


def _requested(result: StatsResult, position: int = 0) -> dict[str | None, int]:
    return {key[position]: f.counts["requested"] for key, f in result.groups.items()}


async def test_days_are_the_merchants_own_across_a_dst_change(db: Database, world: World) -> None:
    # Given a Berlin merchant (CET -> CEST on 29 March 2026, a 23-hour day) with cases
    # at 23:30 and 00:30 local around each midnight of that weekend
    berlin = await add_merchant(db, world, "berlin", "Europe/Berlin")
    await store(db, world, *(case_row(berlin, at(t)) for t in (
        "2026-03-28T22:30:00Z",  # 23:30 CET, 28 March
        "2026-03-28T23:30:00Z",  # 00:30 CET, 29 March
        "2026-03-29T21:30:00Z",  # 23:30 CEST, 29 March
        "2026-03-29T22:30:00Z",  # 00:30 CEST, 30 March
    )))
    scope = await operator(db, world)
    # When grouped by day, week and month
    days = await stats(db, scope, *SPAN, merchants=[berlin], group_by=(D.DAY,))
    weeks = await stats(db, scope, *SPAN, merchants=[berlin], group_by=(D.WEEK,))
    months = await stats(db, scope, *SPAN, merchants=[berlin], group_by=(D.MONTH,))
    # Then each case falls on its local day (the 23-hour 29 March holds two)
    assert _requested(days) == {"2026-03-28": 1, "2026-03-29": 2, "2026-03-30": 1}
    # ISO weeks are labelled by their Monday: Sat 28 and Sun 29 are in the week of 23 March
    assert _requested(weeks) == {"2026-03-23": 3, "2026-03-30": 1}
    assert _requested(months) == {"2026-03-01": 4}
    # And in UTC they fall elsewhere
    utc = await stats(db, scope, *SPAN, merchants=[berlin], group_by=(D.DAY,), timezone="UTC")
    assert _requested(utc) == {"2026-03-28": 2, "2026-03-29": 2}


async def test_a_dst_free_zone_and_the_local_day_boundary(db: Database, world: World) -> None:
    # Given Merchant A (Asia/Shanghai, UTC+8 all year) with cases at 23:30 and 00:30 local
    a = world.merchant_a
    await store(db, world, case_row(a, at("2026-03-29T23:30:00+08:00")),
                case_row(a, at("2026-03-30T00:30:00+08:00")))
    scope = await operator(db, world)
    # When grouped by day: local days by default, the caller's zone when given
    local = await stats(db, scope, *SPAN, merchants=[a], group_by=(D.DAY,))
    utc = await stats(db, scope, *SPAN, merchants=[a], group_by=(D.DAY,), timezone="UTC")
    # Then 00:30 local is the next local day although both are 29 March in UTC
    assert _requested(local) == {"2026-03-29": 1, "2026-03-30": 1}
    assert _requested(utc) == {"2026-03-29": 2}
    # And a period ending at local midnight leaves the 00:30 case out
    day = await stats(db, scope, "2026-03-29T00:00:00+08:00", "2026-03-30T00:00:00+08:00",
                      merchants=[a])
    assert day.total.counts["requested"] == 1


async def test_every_dimension_groups_by_its_column(db: Database, world: World) -> None:
    # Given cases differing in each dimension
    a, b = world.merchant_a, world.merchant_b
    t0 = at("2026-03-30T10:00:00+08:00")
    await store(
        db, world,
        case_row(a, t0, reason="DUPLICATE_CHARGE", payment_channel="ALIPAY", store="S1",
                 terminal="T1", assignee="li"),
        case_row(a, t0 + td(hours=1), reason="QUALITY_ISSUE", store="S2", terminal="T9",
                 method="BANK_TRANSFER", assignee="li"),
        case_row(b, t0, reason="QUALITY_ISSUE", store=None, terminal=None, assignee=None,
                 channel="POS_QR"),
    )
    scope = await operator(db, world)
    expected = {
        D.REASON: {"DUPLICATE_CHARGE": 1, "QUALITY_ISSUE": 2},
        D.REQUEST_CHANNEL: {"API": 2, "POS_QR": 1},
        D.METHOD: {"ORIGINAL_ROUTE": 2, "BANK_TRANSFER": 1},
        D.PAYMENT_CHANNEL: {"ALIPAY": 1, "WECHAT_PAY": 2},
        D.MERCHANT: {str(a): 2, str(b): 1},
        D.STORE: {"S1": 1, "S2": 1, None: 1},
        D.TERMINAL: {"T1": 1, "T9": 1, None: 1},
        D.STAFF: {"li": 2, None: 1},
    }
    for dim, counts in expected.items():
        result = await stats(db, scope, *SPAN, merchants=[a, b], group_by=(dim,))
        assert _requested(result) == counts, dim
    # Two dimensions at once
    both = await stats(db, scope, *SPAN, merchants=[a, b], group_by=(D.MERCHANT, D.REASON))
    assert {k: f.counts["requested"] for k, f in both.groups.items()} == {
        (str(a), "DUPLICATE_CHARGE"): 1, (str(a), "QUALITY_ISSUE"): 1,
        (str(b), "QUALITY_ISSUE"): 1}
