"""Payment channel jobs: the daily reconciliation of payouts with their providers."""

from __future__ import annotations

import logging

from qrefund.jobs import runtime
from qrefund.jobs.registry import QUEUE_PAYOUTS, every
from qrefund.platform.clock import utcnow
from qrefund.platform.payouts import reconcile
from qrefund.platform.payouts import service as payouts
from qrefund.platform.payouts.channels import ChannelUnavailable
from qrefund.platform.payouts.models import Payout

log = logging.getLogger(__name__)

BATCH = 5000


@every(24 * 3600, queue=QUEUE_PAYOUTS, name="payout-reconciliation", timeout=3600)
async def reconcile_payouts() -> int:
    """Job: ask the provider about every payout sent through a channel account and
    changed in the last two days; the number of discrepancies found."""
    db = runtime.database()
    async with db.unit_of_work(runtime.system_scope("payout-reconciliation")) as uow:
        due = await reconcile.to_check(uow, utcnow() - reconcile.WINDOW, BATCH)
    found = 0
    for payout in due:
        found += await _check(payout)
    if found:
        log.warning("payout reconciliation: %d discrepancies in %d payouts", found, len(due))
    return found


async def _check(payout: Payout) -> bool:
    db, settings = runtime.database(), runtime.settings()
    scope = runtime.job_scope(payout.tenant_id, "payout-reconciliation")
    async with db.unit_of_work(scope) as uow:
        channel = await payouts.adapter_for(uow, payout, settings)
    try:
        result = await channel.query(payout.out_refund_no)
    except ChannelUnavailable as exc:  # this one only; the next run asks again
        log.warning("reconciliation of payout %s skipped: %s", payout.id, exc)
        return False
    had = payout.discrepancy is not None
    async with db.unit_of_work(scope) as uow:
        checked = await reconcile.record_check(uow, payout.tenant_id, payout.id, result,
                                               poll_schedule=settings.payout_poll_seconds)
    return checked.discrepancy is not None and not had
