"""Reconciliation: the provider's record of each recent payout against ours.

Once a day (:func:`qrefund.jobs.channels.reconcile_payouts`) every payout sent through
a channel account and changed in the last :data:`WINDOW` is queried at its provider
by its ``out_refund_no``. A live payout takes the answer like a poll would. A final
one is compared: SUCCEEDED here but not at the provider (the case says REFUNDED, the
money did not move), or FAILED here but paid or still in progress there (money may
have left the merchant while the case is not REFUNDED), is a **discrepancy**: noted
on the payout once, with a ``payout.discrepancy`` event, and listed by the
``payoutDiscrepancies`` query for a person to settle. Where the provider offers a
daily refund bill, :mod:`qrefund.platform.payouts.bills` compares it too.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from qrefund.platform.clock import utcnow
from qrefund.platform.db import UnitOfWork
from qrefund.platform.outbox.service import record_event
from qrefund.platform.payouts import service
from qrefund.platform.payouts.channels import ChannelResult, ChannelStatus
from qrefund.platform.payouts.models import Payout, PayoutStatus
from qrefund.platform.payouts.repository import PayoutRepository
from qrefund.platform.roles import Permission

WINDOW = timedelta(days=2)


async def to_check(uow: UnitOfWork, changed_since: datetime, limit: int) -> list[Payout]:
    return await PayoutRepository(uow).through_accounts(changed_since, limit)


def disagreement(payout: Payout, result: ChannelResult) -> str | None:
    """Why the provider's answer contradicts a final payout, or None."""
    said = result.status.value + (f" ({result.failure_code})" if result.failure_code else "")
    if payout.state == PayoutStatus.SUCCEEDED and result.status != ChannelStatus.SUCCEEDED:
        return f"recorded SUCCEEDED but the provider says {said}: the money did not move"
    if payout.state == PayoutStatus.FAILED and result.status != ChannelStatus.FAILED:
        return (f"recorded FAILED but the provider says {said}: money may have left the "
                "merchant while the case is not REFUNDED")
    return None


async def record_check(uow: UnitOfWork, tenant_id: uuid.UUID, payout_id: uuid.UUID,
                       result: ChannelResult, *, poll_schedule: Sequence[int]) -> Payout:
    payout = await service.get(uow, tenant_id, payout_id, lock=True)
    if payout.state not in service.FINAL:
        payout = await service.apply_result(uow, tenant_id, payout_id, result, polled=True,
                                            poll_schedule=poll_schedule)
        payout.reconciled_at = utcnow()
        return payout
    payout.reconciled_at = utcnow()
    found = disagreement(payout, result)
    if found is not None:
        await flag(uow, payout, found, result.status.value)
    return payout


async def flag(uow: UnitOfWork, payout: Payout, note: str, provider_status: str, *,
               provider_amount_minor: int | None = None) -> bool:
    """Note a discrepancy on a (locked) payout with its event, once: False when it
    already had one."""
    payout.reconciled_at = utcnow()
    if payout.discrepancy is not None:
        return False
    payout.discrepancy = note[:300]
    payload = {**service.event_payload(payout), "discrepancy": payout.discrepancy,
               "providerStatus": provider_status}
    if provider_amount_minor is not None:
        payload["providerAmountMinor"] = provider_amount_minor
    await record_event(uow, tenant_id=payout.tenant_id, type="payout.discrepancy",
                       aggregate_type="payout", aggregate_id=payout.id, payload=payload)
    return True


async def discrepancies(uow: UnitOfWork, merchant_ids: Sequence[uuid.UUID] | None,
                        limit: int) -> list[Payout]:
    """Payouts whose provider disagrees, in the caller's scope (or these merchants)."""
    uow.scope.require(Permission.DECIDE_REFUNDS)
    repo = PayoutRepository(uow)
    for merchant_id in merchant_ids or ():  # another tenant's id: not found
        repo.require_in_scope(merchant_id, what="merchant", field=("merchantIds",))
    return await repo.with_discrepancy(merchant_ids, limit)
