"""Anomaly scans: every ``QREFUND_RISK_SCAN_SECONDS`` the scheduler enqueues
:func:`risk_scan`, which enqueues one :func:`risk_scan_merchant` job per merchant with a
payment or refund request in the last day (job id per merchant: a scan still queued or
running is not doubled). Each runs the rules again over that merchant's last day.

Importing this module (workers import every job module) registers the risk screens, so
payments recorded and refunds requested inside jobs are screened too.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from qrefund.jobs import runtime
from qrefund.jobs.enqueue import enqueue_unless_live, retry_policy
from qrefund.jobs.registry import QUEUE_MAINTENANCE, every
from qrefund.jobs.worker import bind
from qrefund.platform import risk
from qrefund.platform.risk import scan

log = logging.getLogger(__name__)

risk.install()

SCAN_MERCHANT = "qrefund.jobs.risk.risk_scan_merchant"
ACTOR = "system:risk-scan"


@every("risk_scan_seconds", queue=QUEUE_MAINTENANCE, name="risk-scan")
async def risk_scan() -> dict[str, Any]:
    """Job: one scan job per merchant active in the last day."""
    async with runtime.database().unit_of_work(runtime.system_scope(ACTOR),
                                               readonly=True) as uow:
        merchants = await scan.merchants(uow)
    queue, enqueued = runtime.queue(QUEUE_MAINTENANCE), 0
    for merchant_id in merchants:
        if enqueue_unless_live(queue, SCAN_MERCHANT, str(merchant_id),
                               job_id=f"risk-scan-{merchant_id}", retry=retry_policy(),
                               meta={"tenant_id": str(merchant_id)}):
            enqueued += 1
    return {"merchants": len(merchants), "enqueued": enqueued}


async def risk_scan_merchant(tenant_id: str, now: str | None = None) -> dict[str, int]:
    """Job: the rules over one merchant's last day (``now``: an ISO time, for tests).

    It runs in the system scope, not the merchant's: CROSS_MERCHANT_CONTACT reads the
    agency's other merchants (bounded by the agency; see its module). Everything else
    names the merchant in every statement."""
    tid = uuid.UUID(tenant_id)
    bind(tenant_id=tid)
    at = datetime.fromisoformat(now) if now else None
    async with runtime.database().unit_of_work(runtime.system_scope(ACTOR)) as uow:
        result = await scan.scan_merchant(uow, tid, now=at)
    if result.flagged:
        log.info("risk scan: %d new flags", result.flagged)
    return {"transactions": result.transactions, "refundCases": result.refund_cases,
            "flagged": result.flagged}
