"""Payouts: attempts, channel results, retries.

Exactly once, by construction:

1. An attempt's ``out_refund_no`` is derived from (case, attempt number), so every
   call for one attempt — a retried job, a duplicated job, a job re-run after a
   crash between the channel call and the database write — carries the same key,
   and the channel (which dedupes by key) pays at most once per attempt.
2. A new attempt (a new key) is made only after the previous one FAILED: a final
   answer from the channel, never a timeout or a crash.
3. Applying a result locks the payout row; a result for a payout that already
   settled is ignored, so two jobs racing on one payout move the case once.

The job functions (:mod:`qrefund.jobs.payouts`) run the three steps
:func:`begin_call` -> channel call (no transaction open) -> :func:`apply_result`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from qrefund.observability import metrics
from qrefund.platform import masking, validation
from qrefund.platform.channels import adapters as channel_adapters
from qrefund.platform.channels import service as channel_accounts
from qrefund.platform.channels.models import AccountChannel
from qrefund.platform.clock import utcnow
from qrefund.platform.config import Settings, get_settings
from qrefund.platform.crypto import key_ring
from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import CommonError, Conflict, InvalidInput, InvalidState
from qrefund.platform.ids import new_id
from qrefund.platform.outbox.service import record_event
from qrefund.platform.payouts.channels import (
    DEFAULT_ADAPTER,
    ChannelResult,
    ChannelStatus,
    PaymentChannelAdapter,
    RefundRequest,
    adapter,
)
from qrefund.platform.payouts.errors import PayoutError
from qrefund.platform.payouts.models import (
    DESTINATION_PURPOSE,
    Payout,
    PayoutEvent,
    PayoutStatus,
)
from qrefund.platform.payouts.repository import PayoutEventRepository, PayoutRepository
from qrefund.platform.refunds import idempotency
from qrefund.platform.refunds import service as refunds
from qrefund.platform.refunds.models import BANK_DESTINATION_PURPOSE, RefundCase
from qrefund.platform.roles import Permission
from qrefund.platform.transactions import service as transactions
from qrefund.platform.vocabulary import RefundCaseStatus, RefundMethod
from qrefund.tenants.lifecycle import frozen_case_tenants

P = PayoutStatus
TRANSITIONS: frozenset[tuple[PayoutStatus, PayoutStatus]] = frozenset({
    (P.PENDING, P.PROCESSING), (P.PENDING, P.SUCCEEDED), (P.PENDING, P.FAILED),
    (P.PROCESSING, P.SUCCEEDED), (P.PROCESSING, P.FAILED),
})
FINAL = frozenset({P.SUCCEEDED, P.FAILED})
MAX_ATTEMPTS = 10
# A PENDING payout untouched this long lost its job (a crash, an embedded runtime
# restart): the payout sweep runs it again, safely, with the same key.
RESUME_AFTER = timedelta(minutes=15)
# A poll job that arrives this much before the payout's next check is a duplicate.
EARLY_POLL_TOLERANCE = timedelta(seconds=1)


def out_refund_no(case_id: uuid.UUID, attempt: int) -> str:
    """The attempt's idempotency key at the channel (32 hex + attempt; <= 64 chars)."""
    return f"QR{case_id.hex}A{attempt:02d}"


def event_payload(payout: Payout) -> dict[str, Any]:
    return {
        "payoutId": str(payout.id), "caseId": str(payout.case_id), "attempt": payout.attempt,
        "status": payout.status, "amountMinor": payout.amount_minor, "currency": payout.currency,
        "method": payout.method, "adapter": payout.adapter, "outRefundNo": payout.out_refund_no,
        "providerRefundId": payout.provider_refund_id, "failureCode": payout.failure_code,
        "failureReason": payout.failure_reason,
    }


async def _record(uow: UnitOfWork, payout: Payout, source: PayoutStatus | None,
                  target: PayoutStatus, *, note: str | None = None) -> None:
    """The append-only payout event and the outbox event ``payout.<created|status>``."""
    PayoutEventRepository(uow).add(PayoutEvent(
        tenant_id=payout.tenant_id, payout_id=payout.id, case_id=payout.case_id,
        from_status=source.value if source else None, to_status=target.value,
        actor=uow.scope.actor[:80], note=note, data={"channelCalls": payout.channel_calls},
    ))
    name = "created" if source is None else target.value.lower()
    await record_event(uow, tenant_id=payout.tenant_id, type=f"payout.{name}",
                       aggregate_type="payout", aggregate_id=payout.id,
                       payload=event_payload(payout))


async def _move(uow: UnitOfWork, payout: Payout, target: PayoutStatus, now: datetime,
                note: str | None = None) -> None:
    source = payout.state
    if (source, target) not in TRANSITIONS:
        raise InvalidState(f"a {source.value} payout cannot become {target.value}")
    payout.status = target.value
    payout.updated_at = now
    if target in FINAL:
        payout.completed_at = now
        payout.next_check_at = None
    await _record(uow, payout, source, target, note=note)


# -- reads ---------------------------------------------------------------------------


async def get(uow: UnitOfWork, tenant_id: uuid.UUID, payout_id: uuid.UUID, *,
              lock: bool = False) -> Payout:
    return await PayoutRepository(uow).require(tenant_id, payout_id, lock=lock, what="payout",
                                               field=None)


async def for_cases(uow: UnitOfWork, keys: Sequence[tuple[uuid.UUID, uuid.UUID]],
                    ) -> dict[tuple[uuid.UUID, uuid.UUID], list[Payout]]:
    """Every attempt of each (tenant id, case id), oldest first: one query for all."""
    found: dict[tuple[uuid.UUID, uuid.UUID], list[Payout]] = {k: [] for k in keys}
    for payout in await PayoutRepository(uow).for_cases(keys):
        found[(payout.tenant_id, payout.case_id)].append(payout)
    return found


async def latest(uow: UnitOfWork, tenant_id: uuid.UUID, case_id: uuid.UUID) -> Payout | None:
    return await PayoutRepository(uow).latest(tenant_id, case_id)


# -- creating attempts ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Routing:
    adapter: str
    account_id: uuid.UUID | None = None
    account_tenant_id: uuid.UUID | None = None  # set when the account is the agency's
    link_id: uuid.UUID | None = None


async def _route(uow: UnitOfWork, case: RefundCase) -> _Routing:
    """Where the case's next attempt goes: the merchant's WeChat Pay / Alipay account, or
    its agency's service-provider account with the merchant's link, for a refund to
    the original route of such a payment; the sandbox otherwise (outside production;
    see ``channels.service.route``)."""
    txn = await transactions.get(uow, case.tenant_id, case.transaction_id)
    found = await channel_accounts.route(uow, case.tenant_id, txn.channel, case.method,
                                         get_settings())
    if found is None:
        return _Routing(DEFAULT_ADAPTER)
    account, link = found.account, found.link
    return _Routing(channel_adapters.ADAPTER_NAMES[AccountChannel(account.channel)], account.id,
                    account.tenant_id if link is not None else None,
                    link.id if link is not None else None)


async def _new_attempt(uow: UnitOfWork, case: RefundCase, *, payout_id: uuid.UUID,
                       destination: str | None) -> Payout:
    repo = PayoutRepository(uow)
    attempts = await repo.attempts(case.tenant_id, case.id)
    if attempts >= MAX_ATTEMPTS:
        raise Conflict(f"this refund was already tried {attempts} times", field=["id"],
                       code=PayoutError.TOO_MANY_PAYOUT_ATTEMPTS)
    routing = await _route(uow, case)
    now = utcnow()
    sealed = key_ring().encrypt(destination, DESTINATION_PURPOSE) if destination else None
    payout = Payout(
        tenant_id=case.tenant_id, id=payout_id, case_id=case.id, attempt=attempts + 1,
        out_refund_no=out_refund_no(case.id, attempts + 1), adapter=routing.adapter,
        channel_account_id=routing.account_id,
        channel_account_tenant_id=routing.account_tenant_id, channel_link_id=routing.link_id,
        method=case.method,
        amount_minor=case.approved_minor or case.requested_minor, currency=case.currency,
        destination_enc=sealed,
        destination_masked=masking.account(destination) if destination else None,
        next_check_at=now + RESUME_AFTER, created_by=uow.scope.actor[:80], created_at=now,
        updated_at=now,
    )
    repo.add(payout)
    await uow.flush()
    await _record(uow, payout, None, P.PENDING)
    return payout


async def create_for_case(uow: UnitOfWork, tenant_id: uuid.UUID, case_id: uuid.UUID
                          ) -> Payout | None:
    """After approval: the first attempt, and the case moves to PROCESSING.

    None (nothing done) when the case is no longer APPROVED or already has a live
    attempt: the approval event may be relayed, and this job run, more than once.
    """
    uow.scope.require(Permission.DECIDE_REFUNDS)
    case = await refunds.get_case(uow, tenant_id, case_id, lock=True)
    if case.state != RefundCaseStatus.APPROVED or await _frozen(uow, tenant_id):
        return None
    previous = await latest(uow, tenant_id, case_id)
    if previous is not None and previous.state != P.FAILED:
        return None
    destination = None
    if case.method == RefundMethod.BANK_TRANSFER and case.bank_destination_enc:
        destination = key_ring().decrypt(case.bank_destination_enc, BANK_DESTINATION_PURPOSE)
    payout = await _new_attempt(uow, case, payout_id=new_id(), destination=destination)
    await refunds.begin_payout(uow, tenant_id, case_id)
    return payout


@dataclass(frozen=True)
class RetryPayout:
    tenant_id: uuid.UUID
    case_id: uuid.UUID
    method: RefundMethod | None = None
    bank_destination: str | None = None
    idempotency_key: str | None = None


def _retry_destination(cmd: RetryPayout) -> str | None:
    destination = validation.text(cmd.bank_destination, "bankDestination", max_len=120,
                                  required=False)
    if cmd.method == RefundMethod.BANK_TRANSFER and destination is None:
        raise InvalidInput("a bank transfer needs bankDestination", field=["bankDestination"],
                           code=CommonError.BANK_DESTINATION_REQUIRED)
    if destination is not None and cmd.method != RefundMethod.BANK_TRANSFER:
        raise InvalidInput("bankDestination goes with method BANK_TRANSFER",
                           field=["bankDestination"], code=CommonError.INVALID_INPUT)
    return destination


async def retry(uow: UnitOfWork, cmd: RetryPayout) -> tuple[RefundCase, Payout]:
    """retryRefundPayout: a new attempt for a case whose payout failed, maybe by bank
    transfer to a destination the consumer gave (stored encrypted)."""
    uow.scope.require(Permission.DECIDE_REFUNDS)
    PayoutRepository(uow).require_in_scope(cmd.tenant_id, what="refund case")
    destination = _retry_destination(cmd)
    payout_id = new_id()
    if cmd.idempotency_key is not None:
        request = {"id": str(cmd.case_id), "method": cmd.method, "dest": destination}
        replay = await idempotency.claim(
            uow, tenant_id=cmd.tenant_id, operation="retryRefundPayout",
            key=cmd.idempotency_key, request=request, result_id=payout_id)
        if replay is not None:
            payout = await get(uow, cmd.tenant_id, replay)
            return await refunds.get_case(uow, cmd.tenant_id, payout.case_id), payout
    case = await refunds.get_case(uow, cmd.tenant_id, cmd.case_id, lock=True)
    if case.state != RefundCaseStatus.PAYOUT_FAILED:
        raise InvalidState(f"only a case whose payout failed can be retried (this one is "
                           f"{case.status})", field=["id"])
    if cmd.method == RefundMethod.BANK_TRANSFER:
        assert destination is not None
        case.method = RefundMethod.BANK_TRANSFER.value
        case.bank_destination_enc = key_ring().encrypt(destination, BANK_DESTINATION_PURPOSE)
    elif cmd.method == RefundMethod.ORIGINAL_ROUTE:
        case.method = RefundMethod.ORIGINAL_ROUTE.value
    elif case.method == RefundMethod.BANK_TRANSFER and case.bank_destination_enc:
        destination = key_ring().decrypt(case.bank_destination_enc, BANK_DESTINATION_PURPOSE)
    # Routed again: a switch to bank transfer leaves the payment's channel.
    payout = await _new_attempt(uow, case, payout_id=payout_id, destination=destination)
    case = await refunds.begin_payout(uow, cmd.tenant_id, cmd.case_id)
    return case, payout


# -- running an attempt (the payout jobs) ------------------------------------------------------


async def _frozen(uow: UnitOfWork, tenant_id: uuid.UUID) -> bool:
    """The merchant's open cases are frozen (a FREEZE suspension): no payout attempt is
    made or sent; an approved case stays APPROVED and a PENDING attempt PENDING, and
    the payout sweep picks both up once the merchant is reactivated. A call already
    made is still recorded (the money moved: apply_result and polls go on)."""
    return bool(await frozen_case_tenants(uow, {tenant_id}))


async def begin_call(uow: UnitOfWork, tenant_id: uuid.UUID, payout_id: uuid.UUID
                     ) -> tuple[Payout, RefundRequest] | None:
    """Step 1: note the call and build the request; None when the payout moved on."""
    payout = await get(uow, tenant_id, payout_id, lock=True)
    if payout.state != P.PENDING or await _frozen(uow, tenant_id):
        return None
    case = await refunds.get_case(uow, tenant_id, payout.case_id)
    txn = await transactions.get(uow, tenant_id, case.transaction_id)
    now = utcnow()
    payout.channel_calls += 1
    payout.submitted_at = payout.submitted_at or now
    payout.next_check_at = now + RESUME_AFTER
    payout.updated_at = now
    destination = (key_ring().decrypt(payout.destination_enc, DESTINATION_PURPOSE)
                   if payout.destination_enc else None)
    return payout, RefundRequest(
        out_refund_no=payout.out_refund_no, tenant_id=tenant_id, amount_minor=payout.amount_minor,
        currency=payout.currency, method=payout.method, payment_channel=txn.channel,
        provider_reference=txn.provider_reference, destination=destination, reason=case.reason,
        payment_amount_minor=txn.amount_minor,
    )


async def adapter_for(uow: UnitOfWork, payout: Payout, settings: Settings
                      ) -> PaymentChannelAdapter:
    """The adapter that carries this attempt: its channel account's (credentials as they
    are now, so a rotation applies to the next call) or a registered one by name. A
    disabled account still settles the attempts already sent through it."""
    if payout.channel_account_id is None:
        return adapter(payout.adapter)
    if payout.channel_link_id is not None:  # the agency's account, with the merchant's link
        found = await channel_accounts.linked_account(
            uow, payout.tenant_id, payout.channel_account_id, payout.channel_link_id)
        account, link = found.account, found.link
    else:
        account = await channel_accounts.get_account(uow, payout.tenant_id,
                                                     payout.channel_account_id)
        link = None
    case = await refunds.get_case(uow, payout.tenant_id, payout.case_id)
    txn = await transactions.get(uow, payout.tenant_id, case.transaction_id)
    return channel_adapters.adapter_for(account, settings, link=link,
                                        provider_reference=txn.provider_reference)


def _count_after_commit(uow: UnitOfWork, adapter: str, outcome: str) -> None:
    """qrefund_payouts{channel, outcome}: counted once the answer is recorded for good."""

    async def count() -> None:
        metrics.observe_payout(adapter, outcome)

    uow.after_commit(count)


def poll_delay(polls: int, schedule: Sequence[int]) -> timedelta:
    """Backoff between status queries: the schedule's n-th wait, then its last, repeated."""
    return timedelta(seconds=schedule[min(polls, len(schedule) - 1)])


async def apply_result(uow: UnitOfWork, tenant_id: uuid.UUID, payout_id: uuid.UUID,
                       result: ChannelResult, *, polled: bool, poll_schedule: Sequence[int],
                       ) -> Payout:
    """Step 3: record the channel's answer; the case follows a final one.

    A payout already SUCCEEDED or FAILED is returned untouched (another job got
    there first); PROCESSING schedules the next status query.
    """
    payout = await get(uow, tenant_id, payout_id, lock=True)
    if payout.state in FINAL:
        return payout
    now = utcnow()
    if polled:
        payout.polls += 1
    payout.provider_refund_id = result.provider_refund_id or payout.provider_refund_id
    _count_after_commit(uow, payout.adapter, str(result.status))
    if result.status == ChannelStatus.SUCCEEDED:
        await _move(uow, payout, P.SUCCEEDED, now)
        await refunds.complete_payout(uow, tenant_id, payout.case_id)
    elif result.status == ChannelStatus.FAILED:
        payout.failure_code = (result.failure_code or "FAILED")[:64]
        payout.failure_reason = (result.failure_reason or "the channel refused the refund")[:500]
        await _move(uow, payout, P.FAILED, now, note=payout.failure_reason)
        await refunds.fail_payout(uow, tenant_id, payout.case_id,
                                  f"{payout.failure_code}: {payout.failure_reason}")
    else:
        payout.next_check_at = now + poll_delay(payout.polls, poll_schedule)
        if payout.state == P.PENDING:
            await _move(uow, payout, P.PROCESSING, now)
        else:
            payout.updated_at = now
    return payout


async def begin_poll(uow: UnitOfWork, tenant_id: uuid.UUID, payout_id: uuid.UUID
                     ) -> Payout | None:
    """A status query is due: the payout, or None when it settled or is not due yet."""
    payout = await get(uow, tenant_id, payout_id)
    if payout.state != P.PROCESSING:
        return None
    if payout.next_check_at and payout.next_check_at > utcnow() + EARLY_POLL_TOLERANCE:
        return None
    return payout


async def postpone_poll(uow: UnitOfWork, tenant_id: uuid.UUID, payout_id: uuid.UUID, *,
                        poll_schedule: Sequence[int]) -> Payout:
    """The channel could not answer a status query: ask again after the next backoff."""
    payout = await get(uow, tenant_id, payout_id, lock=True)
    if payout.state == P.PROCESSING:
        payout.polls += 1
        payout.next_check_at = utcnow() + poll_delay(payout.polls, poll_schedule)
    return payout


async def needing_attention(uow: UnitOfWork, now: datetime, limit: int) -> list[Payout]:
    """Live payouts whose next check is due (the payout sweep; index-backed)."""
    return await PayoutRepository(uow).due(now, limit)


@dataclass(frozen=True)
class StrandedCase:
    """An approved case with no live payout (its payout job was lost or gave up)."""

    tenant_id: uuid.UUID
    case_id: uuid.UUID
    approved_at: datetime

    @property
    def key(self) -> tuple[datetime, uuid.UUID, uuid.UUID]:
        """Where the next page starts (the index's order)."""
        return self.approved_at, self.tenant_id, self.case_id


async def stranded_approvals(uow: UnitOfWork, approved_before: datetime, limit: int, *,
                             after: tuple[datetime, uuid.UUID, uuid.UUID] | None = None,
                             ) -> list[StrandedCase]:
    """APPROVED cases approved before ``approved_before`` without a live payout, oldest
    first, ``limit`` at a time after the ``after`` key (the payout sweep; read through
    the partial index ``ix_refund_cases_awaiting_payout``)."""
    repo = PayoutRepository(uow)
    rows = await repo.rows(repo.stranded(approved_before, limit, after=after))
    return [StrandedCase(tenant_id=row.tenant_id, case_id=row.id, approved_at=row.approved_at)
            for row in rows]
