"""DUPLICATE_CHARGE: the same payer paid the same amount at the same terminal again within
minutes (a double scan, a retried charge). Payers are compared by keyed fingerprint."""

from __future__ import annotations

from datetime import timedelta

from qrefund.platform.risk.repository import SignalRepository
from qrefund.platform.risk.rules import Check, Finding, score
from qrefund.platform.risk.thresholds import RuleSettings
from qrefund.platform.vocabulary import RiskRule

RULE = RiskRule.DUPLICATE_CHARGE
SUBJECT = "TRANSACTION"
WINDOW = timedelta(minutes=10)
# How many other matching payments it takes.
DEFAULT_THRESHOLD = 1.0


async def check(ctx: Check, settings: RuleSettings) -> Finding | None:
    txn = ctx.txn
    if txn.status != "SUCCEEDED" or not txn.payer_fp or not txn.terminal_id:
        return None
    others = await SignalRepository(ctx.uow).duplicate_payments(txn, WINDOW)
    if not others or len(others) < settings.threshold:
        return None
    return Finding(score=score(len(others) + 1, settings.threshold, base=70),
                   transactions=[txn.id, *others],
                   figures={"observed": len(others), "threshold": settings.threshold,
                            "windowMinutes": int(WINDOW.total_seconds() // 60)})
