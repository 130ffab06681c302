"""AMOUNT_MISMATCH: the integrator reported the amount the order should have cost
(``expectedAmount``) and the charged amount differs by at least the threshold (percent
of the expected amount)."""

from __future__ import annotations

from qrefund.platform.risk.rules import Check, Finding, score
from qrefund.platform.risk.thresholds import RuleSettings
from qrefund.platform.vocabulary import RiskRule

RULE = RiskRule.AMOUNT_MISMATCH
SUBJECT = "TRANSACTION"
DEFAULT_THRESHOLD = 0.001  # percent: any difference of a fen on up to 10,000 yuan


async def check(ctx: Check, settings: RuleSettings) -> Finding | None:
    txn = ctx.txn
    expected = txn.expected_amount_minor
    if expected is None or expected <= 0 or expected == txn.amount_minor:
        return None
    percent = abs(txn.amount_minor - expected) * 100 / expected
    if percent < settings.threshold:
        return None
    return Finding(score=max(60, score(percent, max(settings.threshold, 1.0))),
                   transactions=[txn.id],
                   figures={"observed": round(percent, 4), "threshold": settings.threshold,
                            "chargedMinor": txn.amount_minor, "expectedMinor": expected})
