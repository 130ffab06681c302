"""refundStats' figures against hand-computed fixtures (service level, both backends)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta as td

from qrefund.platform.db import Database
from qrefund.platform.policies import sla
from qrefund.platform.vocabulary import SlaClock
from tests.analytics.helpers import at, case_row, operator, stats, store
from tests.support.world import World

DAY = ("2026-03-01T00:00:00+08:00", "2026-03-02T00:00:00+08:00")  # Merchant A's local day


async def _one_day_of_cases(db: Database, world: World) -> None:
    a = world.merchant_a
    t0 = at("2026-03-01T10:00:00+08:00")
    h = td(hours=1)
    await store(
        db, world,
        # approved in full after 2 h, refunded after 5 h: every deadline kept
        case_row(a, t0, status="REFUNDED", review_started_at=t0 + h, approved_at=t0 + 2 * h,
                 approved_minor=10000, processing_at=t0 + 3 * h, refunded_at=t0 + 5 * h),
        # approved in part (20.00 of 50.00) after 50 h: the review deadline (48 h) missed,
        # breached and escalated twice; still paying out
        case_row(a, t0, requested=5000, status="PROCESSING", review_started_at=t0 + 10 * h,
                 approved_at=t0 + 50 * h, approved_minor=2000, escalation_level=2),
        # rejected after 30 h, its deadline extended by 2 h
        case_row(a, t0, requested=4000, status="REJECTED", review_started_at=t0 + 20 * h,
                 rejected_at=t0 + 30 * h, extension_used_minutes=120),
        # cancelled by the consumer before anyone looked
        case_row(a, t0, requested=1000, status="CANCELLED", cancelled_at=t0 + h),
        # paused 12 h awaiting the consumer (both deadlines moved by 12 h): decided after
        # 55 h and refunded after 80 h, both on time thanks to the pause
        case_row(a, t0, requested=3000, status="REFUNDED", review_started_at=t0 + 2 * h,
                 info_requested_at=t0 + 3 * h, approved_at=t0 + 55 * h, approved_minor=3000,
                 refunded_at=t0 + 80 * h, review_due_at=t0 + 60 * h,
                 completion_due_at=t0 + 84 * h),
        # 01:00 local on the next day (still 1 March in UTC): not in the local day
        case_row(a, at("2026-03-02T01:00:00+08:00"), requested=99900),
        # 23:30 local on the day before (in UTC too): not in it either
        case_row(a, at("2026-02-28T23:30:00+08:00"), requested=88800),
    )


async def test_the_figures_of_one_local_day_match_the_hand_computed_ones(
        db: Database, world: World) -> None:
    # Given five cases requested on Merchant A's 1 March and two just outside it
    await _one_day_of_cases(db, world)
    # When the operator asks for that day
    result = await stats(db, await operator(db, world), *DAY, merchants=[world.merchant_a])
    # Then the counts, amounts, rates and durations are the hand-computed ones
    total = result.total
    assert total.counts == {
        "requested": 5, "approved": 3, "approved_full": 2, "approved_partial": 1,
        "rejected": 1, "cancelled": 1, "refunded": 2, "review_decided": 4,
        "review_on_time": 3, "completion_done": 2, "completion_on_time": 2, "breached": 1,
        "escalated": 1, "extended": 1}
    assert dict(total.amounts) == {"CNY": {"requested_minor": 23000, "approved_minor": 15000,
                                           "refunded_minor": 13000}}
    assert total.approval_rate == 0.75
    assert total.rate("review_on_time", "review_decided") == 0.75
    assert total.rate("completion_on_time", "completion_done") == 1.0
    # first responses 1 h, 2 h, 10 h, 20 h; decisions 2 h, 30 h, 50 h, 55 h; money back 5 h, 80 h
    d = total.durations
    assert (d["first_response"].median, d["first_response"].p90) == (21600, 61200)
    assert (d["decision"].median, d["decision"].p90) == (144000, 192600)
    assert (d["money_back"].median, d["money_back"].p90) == (153000, 261000)
    assert result.source == "direct"


@dataclass(frozen=True)
class _BusinessHours:
    sla_clock: str = SlaClock.BUSINESS_HOURS
    business_day_start_hour: int = 9
    business_day_end_hour: int = 18


async def test_compliance_reads_the_deadline_the_policy_clock_recorded(
        db: Database, world: World) -> None:
    # Given two cases requested the day before China's National Day week and decided nine
    # days later: one judged under a business-hours clock with the holiday calendar (its
    # 48 working hours end after the holidays), one under calendar hours (48 h)
    a = world.merchant_a
    t0 = at("2026-09-30T10:00:00+08:00")
    business_due = sla.due_at(_BusinessHours(), t0, 48, "Asia/Shanghai", "CN")
    assert business_due > at("2026-10-09T00:00:00+08:00")  # the holidays do not count
    decided = at("2026-10-09T10:00:00+08:00")
    await store(
        db, world,
        case_row(a, t0, status="APPROVED", approved_at=decided, approved_minor=10000,
                 review_due_at=business_due),
        case_row(a, t0, status="APPROVED", approved_at=decided, approved_minor=10000),
    )
    # When the stats of that day are read
    result = await stats(db, await operator(db, world), "2026-09-30T00:00:00+08:00",
                         "2026-10-01T00:00:00+08:00", merchants=[a])
    # Then the business-hours case kept its deadline and the calendar one did not
    assert result.total.counts["review_decided"] == 2
    assert result.total.counts["review_on_time"] == 1
