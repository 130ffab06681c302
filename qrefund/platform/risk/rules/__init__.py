"""The anomaly rules, one module each. A rule looks at one subject (a payment or a refund
case) through :class:`Check` and returns a :class:`Finding` or None.

Each module defines ``RULE`` (its :class:`RiskRule`), ``DEFAULT_THRESHOLD`` (higher is
looser), ``SUBJECT`` and ``async def check(ctx, settings) -> Finding | None``; the
reads it needs are in :mod:`qrefund.platform.risk.repository`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from qrefund.platform.risk.models import FlagSeverity

if TYPE_CHECKING:
    from qrefund.platform.db import UnitOfWork
    from qrefund.platform.refunds.models import RefundCase
    from qrefund.platform.transactions.models import Transaction
    from qrefund.tenants.models import Tenant


@dataclass(frozen=True)
class Check:
    """What a rule is asked about: a payment, or a case (with its payment)."""

    uow: UnitOfWork
    merchant: Tenant
    txn: Transaction
    now: datetime
    case: RefundCase | None = None
    # The periodic scan (a scope that may read the agency's other merchants).
    scan: bool = False


@dataclass(frozen=True)
class Finding:
    score: int  # 0..100
    transactions: list[Any] = field(default_factory=list)  # related payment ids
    refund_cases: list[Any] = field(default_factory=list)  # related case ids
    figures: dict[str, Any] = field(default_factory=dict)  # observed vs threshold

    @property
    def severity(self) -> FlagSeverity:
        if self.score >= 80:
            return FlagSeverity.HIGH
        return FlagSeverity.MEDIUM if self.score >= 50 else FlagSeverity.LOW

    def evidence(self) -> dict[str, Any]:
        return {"transactions": [str(t) for t in self.transactions],
                "refundCases": [str(c) for c in self.refund_cases], **self.figures}


def score(observed: float, threshold: float, *, base: int = 50) -> int:
    """50 at the threshold, rising with how far past it the observation is, capped at 100."""
    if threshold <= 0:
        return 100
    return max(0, min(100, int(base + 50 * (observed - threshold) / threshold)))
