"""DUPLICATE_CHARGE: the same payer paid the same amount at the same terminal again within
minutes (a double scan, a retried charge). Payers are compared by keyed fingerprint."""

from __future__ import annotations

import uuid
from datetime import timedelta

from qrefund.platform.db import UnitOfWork
from qrefund.platform.risk.repository import SignalRepository
from qrefund.platform.risk.rules import Check, Finding, score
from qrefund.platform.risk.thresholds import RuleSettings
from qrefund.platform.transactions.models import Transaction
from qrefund.platform.vocabulary import RiskRule

RULE = RiskRule.DUPLICATE_CHARGE
SUBJECT = "TRANSACTION"
WINDOW = timedelta(minutes=10)
# How many other matching payments it takes.
DEFAULT_THRESHOLD = 1.0


def applies(txn: Transaction) -> bool:
    return txn.status == "SUCCEEDED" and bool(txn.payer_fp and txn.terminal_id)


async def candidates(uow: UnitOfWork, txn: Transaction) -> list[uuid.UUID]:
    """The other matching payments (none: no threshold can make a flag of it)."""
    if not applies(txn):
        return []
    return await SignalRepository(uow).duplicate_payments(txn, WINDOW)


async def check(ctx: Check, settings: RuleSettings) -> Finding | None:
    txn = ctx.txn
    others = await candidates(ctx.uow, txn)
    if not others or len(others) < settings.threshold:
        return None
    return Finding(score=score(len(others) + 1, settings.threshold, base=70),
                   transactions=[txn.id, *others],
                   figures={"observed": len(others), "threshold": settings.threshold,
                            "windowMinutes": int(WINDOW.total_seconds() // 60)})
