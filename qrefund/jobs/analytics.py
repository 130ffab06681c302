"""The refund statistics rollup: every :data:`INTERVAL` seconds, the days touched since
the last run are recomputed (:mod:`qrefund.platform.analytics.rollup`)."""

from __future__ import annotations

import logging
from typing import Any

from qrefund.jobs import runtime
from qrefund.jobs.registry import QUEUE_MAINTENANCE, every
from qrefund.platform.analytics import rollup

log = logging.getLogger(__name__)

INTERVAL = 300  # how stale the rollup's whole days may be (refundStats reads them)
ACTOR = "system:stats-rollup"


@every(INTERVAL, queue=QUEUE_MAINTENANCE, name="refund-stats-rollup", timeout=1800)
async def refund_stats_rollup(full: bool = False) -> dict[str, Any]:
    """Job: recompute the rollup rows of the merchant-days whose cases changed (every day
    with ``full``). One transaction: the rows and the watermark move together, so a failed
    or concurrent run leaves the rollup as the last successful run left it."""
    async with runtime.database().unit_of_work(runtime.system_scope(ACTOR)) as uow:
        run = await rollup.refresh(uow, full=full)
    if run.days:
        log.info("refund stats rollup: %d days of %d merchants", run.days, run.merchants)
    return {"merchants": run.merchants, "days": run.days,
            "watermark": run.watermark.isoformat()}
