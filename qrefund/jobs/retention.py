"""The retention job (``maintenance`` queue, every ``QREFUND_RETENTION_SWEEP_SECONDS``).

Archives closed tickets, then closed cases (a ticket archived first frees its case),
older than ``QREFUND_RETENTION_DAYS`` (unset: nothing is archived), and purges finished
webhook deliveries older than ``QREFUND_DELIVERY_LOG_DAYS``. Each batch is one unit of
work, so a crash leaves whole subjects either live or archived, and the next run goes on.
"""

from __future__ import annotations

import logging

from qrefund.jobs import runtime
from qrefund.jobs.registry import QUEUE_MAINTENANCE, every
from qrefund.platform.retention import service

log = logging.getLogger(__name__)


@every("retention_sweep_seconds", queue=QUEUE_MAINTENANCE, name="retention", timeout=3600)
async def retention_sweep() -> dict[str, int]:
    settings, db = runtime.settings(), runtime.database()
    done: dict[str, int] = {}
    if settings.retention_days is not None:
        for plan in service.PLANS:
            total = 0
            while True:
                async with db.unit_of_work(runtime.system_scope("retention")) as uow:
                    count = await service.archive_due(uow, plan, days=settings.retention_days)
                total += count
                if count < service.BATCH:
                    break
            done[plan.subject_type] = total
    purged = 0
    while True:
        async with db.unit_of_work(runtime.system_scope("retention")) as uow:
            count = await service.purge_delivery_logs(uow, days=settings.delivery_log_days)
        purged += count
        if count < service.BATCH:
            break
    done["WebhookDelivery"] = purged
    if any(done.values()):
        log.info("retention: %s", done)
    return done
