"""What refundStats answers: additive figures (counts and sums that add up across
days, merchants and currencies), the rates derived from them, and durations.

Definitions (a case counts in the period in which it was *requested*):

* ``approved`` / ``rejected`` / ``cancelled`` / ``refunded``: cases that reached that
  state (a case approved, then cancelled before payout, counts as both);
  ``approved_full``: approved for the whole requested amount, ``approved_partial``: less.
* review SLA: of the decided cases (approved or rejected), those decided at or before
  their recorded ``review_due_at`` — the deadline the policy's clock computed (business
  hours and holidays included), moved by pauses (awaiting the consumer) and extensions.
* completion SLA: of the refunded cases, those refunded by ``completion_due_at``.
* ``breached``: cases whose deadline passed and was escalated (level >= 1);
  ``escalated``: level >= 2; ``extended``: a deadline extension was granted.
* durations (seconds from the request): to first response (review started), to
  decision, to money back; median and 90th percentile (interpolated, as
  ``percentile_cont``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from enum import StrEnum

# The additive figures, in the rollup table's column order.
ADDITIVE = (
    "requested", "approved", "approved_full", "approved_partial", "rejected", "cancelled",
    "refunded", "review_decided", "review_on_time", "completion_done", "completion_on_time",
    "breached", "escalated", "extended",
)
# Sums of minor units, per currency.
AMOUNTS = ("requested_minor", "approved_minor", "refunded_minor")
DURATIONS = ("first_response", "decision", "money_back")


class Dimension(StrEnum):
    REASON = "REASON"
    REQUEST_CHANNEL = "REQUEST_CHANNEL"
    METHOD = "METHOD"
    PAYMENT_CHANNEL = "PAYMENT_CHANNEL"
    MERCHANT = "MERCHANT"
    STORE = "STORE"
    TERMINAL = "TERMINAL"
    STAFF = "STAFF"  # the case's assignee (who reviews it now, escalation included)
    DAY = "DAY"
    WEEK = "WEEK"  # ISO weeks, starting Monday; labelled by their Monday
    MONTH = "MONTH"  # labelled by the first day


CALENDAR = frozenset({Dimension.DAY, Dimension.WEEK, Dimension.MONTH})
# What the daily rollup can answer: it keeps merchant, day and currency only.
ROLLUP_DIMENSIONS = CALENDAR | {Dimension.MERCHANT}
# What the monthly level above the days can answer: merchant, month and currency.
MONTHLY_DIMENSIONS = frozenset({Dimension.MERCHANT, Dimension.MONTH})

GroupKey = tuple[str | None, ...]


@dataclass(frozen=True)
class Percentiles:
    median: float | None = None
    p90: float | None = None


@dataclass
class Figures:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ADDITIVE, 0))
    # currency -> figure -> minor units
    amounts: dict[str, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: dict.fromkeys(AMOUNTS, 0)))
    durations: dict[str, Percentiles] = field(default_factory=dict)

    def add(self, currency: str, values: dict[str, int]) -> None:
        """Adds one aggregate row (a currency's sums, from the cases or the rollup)."""
        for name in ADDITIVE:
            self.counts[name] += int(values[name] or 0)
        bucket = self.amounts[currency]
        for name in AMOUNTS:
            bucket[name] += int(values[name] or 0)

    def rate(self, part: str, whole: str) -> float | None:
        total = self.counts[whole]
        return self.counts[part] / total if total else None

    @property
    def approval_rate(self) -> float | None:
        """Approved among decided (approved or rejected) cases."""
        decided = self.counts["approved"] + self.counts["rejected"]
        return self.counts["approved"] / decided if decided else None


@dataclass(frozen=True)
class ComplaintFigures:
    opened: int = 0
    first_responded: int = 0
    first_response_on_time: int = 0
    resolved: int = 0
    resolved_on_time: int = 0
    rated: int = 0
    rating_sum: int = 0
    ratings: dict[int, int] = field(default_factory=dict)  # rating 1..5 -> tickets
    repeats: int = 0

    @property
    def first_response_compliance(self) -> float | None:
        return self.first_response_on_time / self.first_responded if self.first_responded else None

    @property
    def resolution_compliance(self) -> float | None:
        return self.resolved_on_time / self.resolved if self.resolved else None

    @property
    def satisfaction_average(self) -> float | None:
        return self.rating_sum / self.rated if self.rated else None

    @property
    def repeat_rate(self) -> float | None:
        return self.repeats / self.opened if self.opened else None


@dataclass
class StatsResult:
    dimensions: tuple[Dimension, ...]
    total: Figures
    groups: dict[GroupKey, Figures]
    complaints: ComplaintFigures
    # Which path answered: "direct" (the cases) or "rollup" (whole days from the rollup,
    # partial edge days from the cases).
    source: str = "direct"
