"""The complaint terms of a refund policy: SLA hours per ticket priority, the reopen
window and the auto-close delay.

Priorities live here, below the complaints domain, because a policy version names
hours per priority; the complaints domain re-exports :class:`ComplaintPriority`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class ComplaintPriority(StrEnum):
    LOW = "LOW"
    NORMAL = "NORMAL"
    HIGH = "HIGH"
    URGENT = "URGENT"

    def raised(self) -> ComplaintPriority:
        """One level up (URGENT stays URGENT)."""
        order = list(ComplaintPriority)
        return order[min(order.index(self) + 1, len(order) - 1)]


@dataclass(frozen=True)
class PriorityHours:
    """SLA hours for each ticket priority."""

    low: int
    normal: int
    high: int
    urgent: int

    def of(self, priority: ComplaintPriority | str) -> int:
        return int(getattr(self, ComplaintPriority(priority).value.lower()))

    def as_dict(self) -> dict[str, int]:
        return {p.value: self.of(p) for p in ComplaintPriority}

    @classmethod
    def from_dict(cls, values: Mapping[str, int] | None, default: PriorityHours) -> PriorityHours:
        """A stored mapping (priority name -> hours); ``default`` for a version published
        before complaint terms existed (None) or for a priority it does not name."""
        if not values:
            return default
        return cls(*(int(values.get(p.value, default.of(p))) for p in ComplaintPriority))


DEFAULT_FIRST_RESPONSE_HOURS = PriorityHours(low=72, normal=24, high=8, urgent=2)
DEFAULT_RESOLUTION_HOURS = PriorityHours(low=240, normal=120, high=72, urgent=24)
DEFAULT_REOPEN_WINDOW_DAYS = 14
DEFAULT_AUTO_CLOSE_DAYS = 7

# Bounds checked when a policy is published.
MAX_FIRST_RESPONSE_HOURS = 720
MAX_RESOLUTION_HOURS = 2160
MAX_REOPEN_WINDOW_DAYS = 365
MAX_AUTO_CLOSE_DAYS = 365
