"""Reconciliation against a provider's daily refund bill.

The per-payout queries (:mod:`qrefund.platform.payouts.reconcile`) only ask about
payouts the platform knows are recent; the bill is the provider's own list of the
day's refunds, so it also catches a payout whose status the platform never learned
(still PROCESSING, or FAILED, while the bill says the money went back) and an amount
that differs. Days are China dates (the providers' bill days, UTC+8).

Comparing one account's bill for day D with the payouts created through that account
on D (matched by ``out_refund_no``, the payout's idempotency key):

* the bill says refunded, the payout is not SUCCEEDED → discrepancy (money left the
  merchant while the case is not REFUNDED);
* both say refunded but the amounts differ → discrepancy (both amounts in the event);
* the payout is SUCCEEDED but the bill says closed/abnormal, or has no row for it →
  discrepancy; a payout created within :data:`BOUNDARY` of midnight is not called
  absent (the provider may have dated it the other day), nor is a bill row still
  PROCESSING called a failure.

A bill that is not ready or fails its hash compares nothing (the per-payout queries
still ran); the job asks for the last :data:`BILL_DAYS` days every run, so a day whose
bill was late is compared on the next run. Flags are set once, as for queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone

from qrefund.platform.db import UnitOfWork
from qrefund.platform.payouts import reconcile, service
from qrefund.platform.payouts.channels import BillRow
from qrefund.platform.payouts.models import Payout, PayoutStatus
from qrefund.platform.payouts.repository import PayoutRepository

CHINA = timezone(timedelta(hours=8))
BILL_DAYS = 2  # yesterday and the day before: a late bill is retried once more
BOUNDARY = timedelta(minutes=10)
STILL_WORKING = frozenset({"PROCESSING"})


@dataclass(frozen=True)
class Finding:
    note: str
    provider_status: str
    provider_amount_minor: int | None


def bill_dates(now: datetime) -> list[date]:
    today = now.astimezone(CHINA).date()
    return [today - timedelta(days=n) for n in range(1, BILL_DAYS + 1)]


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=CHINA).astimezone(UTC)
    return start, start + timedelta(days=1)


async def payouts_of_day(uow: UnitOfWork, day: date, limit: int) -> list[Payout]:
    start, end = day_bounds(day)
    return await PayoutRepository(uow).through_accounts_created(start, end, limit)


def near_boundary(payout: Payout, day: date) -> bool:
    start, end = day_bounds(day)
    created = payout.created_at if payout.created_at.tzinfo else payout.created_at.replace(
        tzinfo=UTC)
    return created - start < BOUNDARY or end - created < BOUNDARY


def compare(payout: Payout, row: BillRow | None, day: date) -> Finding | None:
    """Why the day's bill contradicts this payout, or None."""
    state = payout.state
    if row is None:
        if state == PayoutStatus.SUCCEEDED and not near_boundary(payout, day):
            return Finding(f"recorded SUCCEEDED but absent from the provider's refund bill "
                           f"of {day}: the money did not move", "ABSENT", None)
        return None
    if row.refunded and state != PayoutStatus.SUCCEEDED:
        return Finding(f"the provider's refund bill of {day} says {row.status} but it is "
                       f"recorded {state.value}: money left the merchant while the case is "
                       "not REFUNDED", row.status, row.amount_minor)
    if row.refunded and row.amount_minor != payout.amount_minor:
        return Finding(f"amount differs: recorded {payout.amount_minor}, the provider's "
                       f"refund bill of {day} says {row.amount_minor} (minor units)",
                       row.status, row.amount_minor)
    if (not row.refunded and row.status not in STILL_WORKING
            and state == PayoutStatus.SUCCEEDED):
        return Finding(f"recorded SUCCEEDED but the provider's refund bill of {day} says "
                       f"{row.status}: the money did not move", row.status, row.amount_minor)
    return None


async def record_bill(uow: UnitOfWork, day: date, payouts: Sequence[Payout],
                      rows: Sequence[BillRow]) -> int:
    """Compare one account's payouts of the day (one tenant, this unit's scope) with its
    bill; flag the new discrepancies (each payout re-read under lock); their number."""
    by_number = {row.out_refund_no: row for row in rows}
    flagged = 0
    for seen in payouts:
        if compare(seen, by_number.get(seen.out_refund_no), day) is None:
            continue
        payout = await service.get(uow, seen.tenant_id, seen.id, lock=True)
        finding = compare(payout, by_number.get(payout.out_refund_no), day)
        if finding is not None and await reconcile.flag(
                uow, payout, finding.note, finding.provider_status,
                provider_amount_minor=finding.provider_amount_minor):
            flagged += 1
    return flagged


def unmatched(payouts: Sequence[Payout], rows: Sequence[BillRow]) -> int:
    """Bill rows naming no payout of the day (refunds made outside the platform, or a
    payout of the neighbouring day): counted and logged, not flagged."""
    numbers = {p.out_refund_no for p in payouts}
    return sum(1 for row in rows if row.out_refund_no not in numbers)
