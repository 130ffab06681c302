"""RefundStats and its parts: thin views of :mod:`qrefund.platform.analytics.figures`."""

from __future__ import annotations

import uuid
from enum import Enum
from typing import Any

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.money import MoneyType
from qrefund.platform.analytics.figures import (
    ComplaintFigures,
    Dimension,
    Figures,
    GroupKey,
    Percentiles,
)


@strawberry.enum(description="A breakdown of refundStats. DAY/WEEK/MONTH are local to the "
                 "merchant (or to the `timezone` argument); WEEK is the ISO week labelled by "
                 "its Monday, MONTH by its first day. STAFF is the case's assignee.")
class StatsDimension(Enum):
    REASON = "REASON"
    REQUEST_CHANNEL = "REQUEST_CHANNEL"
    METHOD = "METHOD"
    PAYMENT_CHANNEL = "PAYMENT_CHANNEL"
    MERCHANT = "MERCHANT"
    STORE = "STORE"
    TERMINAL = "TERMINAL"
    STAFF = "STAFF"
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"


@strawberry.enum(description="Where the figures came from.")
class StatsSource(Enum):
    DIRECT = "direct"  # every figure from the refund cases
    ROLLUP = "rollup"  # whole days from the daily rollup, partial edge days from the cases


@strawberry.type(description="Seconds from the request; null when no case got there.")
class DurationStats:
    median: float | None
    p90: float | None

    @classmethod
    def of(cls, value: Percentiles | None) -> DurationStats:
        value = value or Percentiles()
        return cls(median=value.median, p90=value.p90)


def _money(figures: Figures, name: str) -> list[MoneyType]:
    return [MoneyType.of(sums[name], currency)
            for currency, sums in sorted(figures.amounts.items())]


@strawberry.type(description="Figures of refund cases requested in the period (a case "
                 "counts in every state it reached).")
class RefundFigures:
    requested: int
    requested_amount: list[MoneyType]
    approved: int
    approved_full: int = strawberry.field(description="Approved for the whole requested amount.")
    approved_partial: int = strawberry.field(description="Approved for less than requested.")
    approved_amount: list[MoneyType]
    rejected: int
    cancelled: int
    refunded: int
    refunded_amount: list[MoneyType]
    approval_rate: float | None = strawberry.field(
        description="Approved among decided (approved or rejected) cases.")
    review_sla_compliance: float | None = strawberry.field(
        description="Share of decided cases decided by their review deadline (the "
        "policy's clock: business hours and holidays, pauses and extensions included).")
    completion_sla_compliance: float | None = strawberry.field(
        description="Share of refunded cases refunded by their completion deadline.")
    breached: int = strawberry.field(description="Cases with a deadline breach (escalation "
                                     "level 1 or more).")
    escalated: int = strawberry.field(description="Cases escalated beyond the breach "
                                      "(level 2 or more).")
    extended: int = strawberry.field(description="Cases whose deadline was extended.")
    time_to_first_response: DurationStats
    time_to_decision: DurationStats
    time_to_money_back: DurationStats


def figure_fields(f: Figures) -> dict[str, Any]:
    c = f.counts
    return dict(
        requested=c["requested"], requested_amount=_money(f, "requested_minor"),
        approved=c["approved"], approved_full=c["approved_full"],
        approved_partial=c["approved_partial"], approved_amount=_money(f, "approved_minor"),
        rejected=c["rejected"], cancelled=c["cancelled"], refunded=c["refunded"],
        refunded_amount=_money(f, "refunded_minor"), approval_rate=f.approval_rate,
        review_sla_compliance=f.rate("review_on_time", "review_decided"),
        completion_sla_compliance=f.rate("completion_on_time", "completion_done"),
        breached=c["breached"], escalated=c["escalated"], extended=c["extended"],
        time_to_first_response=DurationStats.of(f.durations.get("first_response")),
        time_to_decision=DurationStats.of(f.durations.get("decision")),
        time_to_money_back=DurationStats.of(f.durations.get("money_back")),
    )


@strawberry.type
class StatsGroupKey:
    dimension: StatsDimension
    value: str | None = strawberry.field(description="The group's value: an enum value, a "
                                         "store or terminal id, a Tenant id for MERCHANT, a "
                                         "date (YYYY-MM-DD) for DAY/WEEK/MONTH; null: none.")


@strawberry.type
class RefundStatsGroup(RefundFigures):
    key: list[StatsGroupKey]


@strawberry.type
class RatingCount:
    rating: int
    count: int


@strawberry.type(description="Complaint tickets opened in the period.")
class ComplaintStats:
    opened: int
    first_response_compliance: float | None = strawberry.field(
        description="Share of answered tickets first answered by their deadline.")
    resolution_compliance: float | None = strawberry.field(
        description="Share of resolved tickets resolved by their deadline.")
    satisfaction_average: float | None
    satisfaction_distribution: list[RatingCount]
    repeat_rate: float | None = strawberry.field(
        description="Share of tickets that repeat an earlier complaint.")

    @classmethod
    def of(cls, c: ComplaintFigures) -> ComplaintStats:
        return cls(opened=c.opened, first_response_compliance=c.first_response_compliance,
                   resolution_compliance=c.resolution_compliance,
                   satisfaction_average=c.satisfaction_average,
                   satisfaction_distribution=[RatingCount(rating=r, count=c.ratings.get(r, 0))
                                              for r in range(1, 6)],
                   repeat_rate=c.repeat_rate)


@strawberry.type(description="Refund statistics of the merchants in scope.")
class RefundStats(RefundFigures):
    groups: list[RefundStatsGroup]
    complaints: ComplaintStats
    source: StatsSource


def group_key(dims: tuple[Dimension, ...], key: GroupKey) -> list[StatsGroupKey]:
    out = []
    for dim, value in zip(dims, key, strict=True):
        if dim == Dimension.MERCHANT and value is not None:
            value = ids.encode("Tenant", uuid.UUID(value))
        out.append(StatsGroupKey(dimension=StatsDimension(dim.value), value=value))
    return out
