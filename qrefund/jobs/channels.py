"""Payment channel jobs: the daily reconciliation of payouts with their providers (each
recent payout queried, then each account's refund bill of the last days compared)."""

from __future__ import annotations

import logging
import uuid
from datetime import date

from qrefund.jobs import runtime
from qrefund.jobs.registry import QUEUE_PAYOUTS, every
from qrefund.observability import metrics
from qrefund.platform.clock import utcnow
from qrefund.platform.payouts import bills, reconcile
from qrefund.platform.payouts import service as payouts
from qrefund.platform.payouts.channels import (
    BillNotReady,
    BillUnavailable,
    ChannelUnavailable,
    RefundBillSource,
)
from qrefund.platform.payouts.models import Payout

log = logging.getLogger(__name__)

BATCH = 5000


@every(24 * 3600, queue=QUEUE_PAYOUTS, name="payout-reconciliation", timeout=3600)
async def reconcile_payouts() -> int:
    """Job: ask the provider about every payout sent through a channel account and
    changed in the last two days, then compare the refund bills of the last
    :data:`bills.BILL_DAYS` days; the number of new discrepancies found."""
    db = runtime.database()
    async with db.unit_of_work(runtime.system_scope("payout-reconciliation")) as uow:
        due = await reconcile.to_check(uow, utcnow() - reconcile.WINDOW, BATCH)
    found = 0
    for payout in due:
        found += await _check(payout)
    for day in bills.bill_dates(utcnow()):  # after the queries: live payouts settled first
        found += await reconcile_bills(day)
    if found:
        log.warning("payout reconciliation: %d discrepancies (%d payouts queried, and the "
                    "refund bills)", found, len(due))
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


async def reconcile_bills(day: date) -> int:
    """Compare each channel account's refund bill of ``day`` (a China date) with the
    payouts created through it that day; the number of new discrepancies."""
    async with runtime.database().unit_of_work(
            runtime.system_scope("payout-reconciliation"), readonly=True) as uow:
        created = await bills.payouts_of_day(uow, day, BATCH)
    groups: dict[tuple[uuid.UUID, uuid.UUID | None], list[Payout]] = {}
    for payout in created:
        groups.setdefault((payout.tenant_id, payout.channel_account_id), []).append(payout)
    found = 0
    for group in groups.values():
        found += await _bill(day, group)
    return found


async def _bill(day: date, group: list[Payout]) -> int:
    """One account's bill for one tenant (its link's sub-merchant, if any)."""
    db, settings = runtime.database(), runtime.settings()
    scope = runtime.job_scope(group[0].tenant_id, "payout-reconciliation")
    async with db.unit_of_work(scope) as uow:
        channel = await payouts.adapter_for(uow, group[0], settings)
    if not isinstance(channel, RefundBillSource):
        return 0  # no bill download at this provider (yet): the queries cover it
    name, account = getattr(channel, "name", "channel"), group[0].channel_account_id
    try:
        rows = await channel.refund_bill(day)
    except BillNotReady as exc:  # compared on the next run (BILL_DAYS)
        metrics.observe_refund_bill(name, "not_ready")
        log.info("refund bill of %s for account %s not ready: %s", day, account, exc)
        return 0
    except BillUnavailable as exc:  # never compare a bill we cannot trust
        metrics.observe_refund_bill(name, "rejected")
        log.error("refund bill of %s for account %s refused: %s", day, account, exc)
        return 0
    except ChannelUnavailable as exc:
        metrics.observe_refund_bill(name, "unavailable")
        log.warning("refund bill of %s for account %s unavailable: %s", day, account, exc)
        return 0
    async with db.unit_of_work(scope) as uow:
        found = await bills.record_bill(uow, day, group, rows)
    metrics.observe_refund_bill(name, "compared")
    if extra := bills.unmatched(group, rows):
        log.info("refund bill of %s for account %s: %d rows name no payout of the day",
                 day, account, extra)
    return found
