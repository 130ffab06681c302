"""REFUND_VELOCITY: more refund requests in the last 24 hours at the case's terminal, its
store, or by the staff key that filed it, than the merchant's own norm there: the median
plus k times the median absolute deviation of the daily counts of the 28 days before
(computed in SQL; days without a request count as 0). k is the threshold."""

from __future__ import annotations

from qrefund.platform.risk.repository import SignalRepository
from qrefund.platform.risk.rules import Check, Finding, score
from qrefund.platform.risk.thresholds import RuleSettings
from qrefund.platform.roles import Role
from qrefund.platform.vocabulary import RiskRule

RULE = RiskRule.REFUND_VELOCITY
SUBJECT = "REFUND_CASE"
DEFAULT_THRESHOLD = 3.0  # k
# Below this many requests a day nothing is unusual, whatever the baseline (a quiet
# terminal's median and MAD are 0).
MIN_COUNT = 5
STAFF_PREFIX = "api_key:"


def dimensions(ctx: Check) -> list[tuple[str, str]]:
    """Terminal, store, and the staff key that filed the case: a person's key (an
    INTEGRATION key files every request of a channel, so its volume is no signal; the
    scan's system scope does not know the filer's role, so it leaves staff out)."""
    assert ctx.case is not None
    found = [("terminal", ctx.txn.terminal_id), ("store", ctx.txn.store_id)]
    if (not ctx.scan and ctx.case.submitted_by.startswith(STAFF_PREFIX)
            and ctx.uow.scope.role != Role.INTEGRATION):
        found.append(("staff", ctx.case.submitted_by))
    return [(d, v) for d, v in found if v]


async def check(ctx: Check, settings: RuleSettings) -> Finding | None:
    repo = SignalRepository(ctx.uow)
    keys = dimensions(ctx)
    if not keys:
        return None
    # One cheap count first: a baseline is computed only where the day is busy enough.
    busy = await repo.today_counts(ctx.merchant.id, keys, ctx.now)
    worst: tuple[float, str, str, float, float, int] | None = None
    for dimension, value in (k for k in keys if busy[k] >= MIN_COUNT):
        base = await repo.baseline(ctx.merchant.id, dimension, value, ctx.now)
        limit = base.median + settings.threshold * base.mad
        if base.today < MIN_COUNT or base.today <= limit:
            continue
        excess = (base.today - limit) / max(limit, 1.0)
        if worst is None or excess > worst[0]:
            worst = (excess, dimension, value, base.median, base.mad, base.today)
    if worst is None:
        return None
    _, dimension, value, median, mad, today = worst
    limit = median + settings.threshold * mad
    assert ctx.case is not None
    recent = await repo.recent_cases(ctx.merchant.id, dimension, value, ctx.now)
    return Finding(score=score(today, max(limit, float(MIN_COUNT))), transactions=[ctx.txn.id],
                   refund_cases=recent or [ctx.case.id],
                   figures={"dimension": dimension, "key": value, "observed": today,
                            "median": median, "mad": mad, "k": settings.threshold,
                            "threshold": round(limit, 3)})
