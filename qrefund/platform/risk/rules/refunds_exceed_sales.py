"""REFUNDS_EXCEED_SALES: the refunds requested today (the merchant's local day) at the
case's terminal or store exceed the threshold times that day's net sales there
(successful payments less what was already refunded of them)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from qrefund.platform.risk.repository import SignalRepository
from qrefund.platform.risk.rules import Check, Finding, score
from qrefund.platform.risk.thresholds import RuleSettings
from qrefund.platform.vocabulary import RiskRule

RULE = RiskRule.REFUNDS_EXCEED_SALES
SUBJECT = "REFUND_CASE"
DEFAULT_THRESHOLD = 1.0  # times the day's net sales


def local_day(now: datetime, timezone: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(timezone)
    start = datetime.combine(now.astimezone(zone).date(), time(), tzinfo=zone)
    end = datetime.combine(start.date() + timedelta(days=1), time(), tzinfo=zone)
    return start, end


async def check(ctx: Check, settings: RuleSettings) -> Finding | None:
    keys = [(d, v) for d, v in (("terminal", ctx.txn.terminal_id),
                                ("store", ctx.txn.store_id)) if v]
    if not keys:
        return None
    start, end = local_day(ctx.now, ctx.merchant.timezone)
    totals = await SignalRepository(ctx.uow).day_totals(ctx.merchant.id, keys, start, end)
    for (dimension, value), (sales, requested, refunded) in totals.items():
        net = max(sales - refunded, 0)
        if requested > 0 and requested > settings.threshold * net:
            assert ctx.case is not None
            return Finding(score=score(requested, max(settings.threshold * net, 1.0), base=60),
                           transactions=[ctx.txn.id], refund_cases=[ctx.case.id],
                           figures={"dimension": dimension, "key": value,
                                    "observed": requested, "netSalesMinor": net,
                                    "threshold": settings.threshold,
                                    "day": start.date().isoformat()})
    return None
