"""QUICK_REFUND: a refund requested minutes after the payment, at a terminal whose share of
payments refunded (last 28 days) is the threshold times the merchant's share or more:
money in and straight back out at a terminal that already refunds unusually often."""

from __future__ import annotations

from datetime import timedelta

from qrefund.platform.risk.repository import BASELINE_DAYS, SignalRepository
from qrefund.platform.risk.rules import Check, Finding, score
from qrefund.platform.risk.thresholds import RuleSettings
from qrefund.platform.vocabulary import RiskRule

RULE = RiskRule.QUICK_REFUND
SUBJECT = "REFUND_CASE"
DEFAULT_THRESHOLD = 2.0  # times the merchant's refund share
WINDOW = timedelta(minutes=30)
MIN_CASES = 2  # cases at the terminal before its share means anything


async def check(ctx: Check, settings: RuleSettings) -> Finding | None:
    case, txn = ctx.case, ctx.txn
    assert case is not None
    if not txn.terminal_id or case.created_at - txn.paid_at > WINDOW:
        return None
    since = ctx.now - timedelta(days=BASELINE_DAYS)
    t_txns, t_cases, m_txns, m_cases = await SignalRepository(ctx.uow).refund_share(
        ctx.merchant.id, txn.terminal_id, since)
    if t_cases < MIN_CASES or not t_txns or not m_txns or not m_cases:
        return None
    terminal_share, merchant_share = t_cases / t_txns, m_cases / m_txns
    ratio = terminal_share / merchant_share
    if ratio < settings.threshold:
        return None
    minutes = int((case.created_at - txn.paid_at).total_seconds() // 60)
    return Finding(score=score(ratio, settings.threshold), transactions=[txn.id],
                   refund_cases=[case.id],
                   figures={"minutesAfterPayment": minutes, "terminal": txn.terminal_id,
                            "terminalShare": round(terminal_share, 4),
                            "merchantShare": round(merchant_share, 4),
                            "observed": round(ratio, 3), "threshold": settings.threshold})
