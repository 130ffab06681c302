"""Refund case transitions after intake: review, decision, deadlines, payout steps.

Every change locks the case row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite
serialises writers), moves the status through :mod:`lifecycle`'s table, stamps
the state's timestamp, appends a timeline event and writes the outbox event
``refund_case.<type>`` in the same unit of work.

Lock order, the same in every unit: the case row, then its transaction row, then
the per-tenant counters (``tenant_sequences``: case numbers and the event sequence,
taken when an event is written). Intake, which has no case yet, starts at the
transaction. So a unit must not lock a case or a transaction after it has written
an event: do one transition per unit (or lock everything first). The concurrency
test found the deadlock that mixing them (review, then approve, in one unit) makes.

Reservation: a case holds its amount in ``transactions.reserved_minor`` from
submission on (see :attr:`RefundCase.held_minor`), so ``refunded + reserved <=
amount`` is checked once, under the transaction's lock, when the money is first
claimed; later steps only shrink, release or convert what the case already holds.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from qrefund.platform import validation
from qrefund.platform.channels import service as channels
from qrefund.platform.clock import utcnow
from qrefund.platform.config import get_settings
from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import CommonError, InvalidInput, InvalidState, NotFound
from qrefund.platform.ids import new_id
from qrefund.platform.money import Money
from qrefund.platform.outbox.service import record_event
from qrefund.platform.policies import service as policies
from qrefund.platform.policies.models import RefundPolicy
from qrefund.platform.policies.terms import DEFAULT_TERMS, PolicySource, PolicyTerms
from qrefund.platform.refunds import idempotency
from qrefund.platform.refunds.errors import RefundError
from qrefund.platform.refunds.lifecycle import TERMINAL, UNDECIDED, Action, next_status
from qrefund.platform.refunds.models import RefundCase
from qrefund.platform.refunds.repository import RefundCaseEventRepository, RefundCaseRepository
from qrefund.platform.roles import Permission
from qrefund.platform.transactions import service as transactions
from qrefund.platform.transactions.models import Transaction
from qrefund.platform.vocabulary import RefundCaseStatus as S
from qrefund.tenants.service import get_tenant

NOTE_MAX = 2000
_STAMPS = {
    S.UNDER_REVIEW: "review_started_at", S.AWAITING_INFO: "info_requested_at",
    S.APPROVED: "approved_at", S.REJECTED: "rejected_at", S.CANCELLED: "cancelled_at",
    S.PROCESSING: "processing_at", S.REFUNDED: "refunded_at", S.PAYOUT_FAILED: "payout_failed_at",
}


async def get_case(
    uow: UnitOfWork, tenant_id: uuid.UUID, case_id: uuid.UUID, *, lock: bool = False
) -> RefundCase:
    """One case in scope; another tenant's (or a missing) case is NOT_FOUND.

    ``lock=True`` takes the row lock until the unit ends and refreshes the object
    from the locked row (it may already sit in the session, read before the lock).
    """
    return await RefundCaseRepository(uow).require(tenant_id, case_id, lock=lock,
                                                   what="refund case")


async def cases_by_keys(uow: UnitOfWork, keys: Sequence[tuple[uuid.UUID, uuid.UUID]], *,
                        lock: bool = False) -> dict[tuple[uuid.UUID, uuid.UUID], RefundCase]:
    """Cases by (merchant, id), those out of scope left out; ``lock`` takes their row
    locks and refreshes copies already in the unit."""
    return await RefundCaseRepository(uow).by_keys(keys, lock=lock)


async def lock_transaction(uow: UnitOfWork, tenant_id: uuid.UUID, txn_id: uuid.UUID) -> Transaction:
    """The case's transaction under its row lock, with fresh amounts (a copy already in
    the unit is refreshed from the locked row)."""
    return await transactions.get(uow, tenant_id, txn_id, lock=True)


def event_payload(case: RefundCase) -> dict[str, Any]:
    return {
        "caseId": str(case.id), "caseNumber": case.case_number,
        "transactionId": str(case.transaction_id), "merchantId": str(case.tenant_id),
        "status": case.status, "amountMinor": case.approved_minor or case.requested_minor,
        "requestedMinor": case.requested_minor, "approvedMinor": case.approved_minor,
        "currency": case.currency, "method": case.method, "reason": case.reason,
        "escalationLevel": case.escalation_level,
        "reviewDueAt": case.review_due_at.isoformat(),
        "completionDueAt": case.completion_due_at.isoformat(),
    }


def count_event(case: RefundCase) -> datetime:
    """Give the case's next timeline event its sequence number (``event_count``) and
    stamp ``updated_at``; the event's time is returned."""
    now = utcnow()
    case.event_count += 1
    case.updated_at = now
    return now


async def record_case_event(
    uow: UnitOfWork, case: RefundCase, *, type: str, note: str | None = None,
    from_status: S | str | None = None, to_status: S | str | None = None,
    data: dict[str, Any] | None = None, actor: str | None = None, counted: bool = False,
) -> None:
    """Append to the case's timeline and write the outbox event ``refund_case.<type>``.

    Call it with the case locked (``get_case(..., lock=True)``): the timeline's
    per-case sequence number comes from the case row.

    ``counted``: the caller ran :func:`count_event` for this event already, before the
    case row was first written (intake), so the row's INSERT carried the count and no
    UPDATE of it follows; the event takes the row's ``updated_at`` as its time.
    """
    now = case.updated_at if counted else count_event(case)
    # The case's change written now, past the ORM's flush (~0.5 ms of bookkeeping).
    await RefundCaseRepository(uow).write_changes(case)
    # The row from plain values: a RefundCaseEvent object (~0.1 ms to build) would only
    # be turned back into them; insert_rows checks that they name every column.
    await RefundCaseEventRepository(uow).insert_rows([{
        "tenant_id": case.tenant_id, "id": new_id(), "case_id": case.id,
        "seq": case.event_count, "type": type,
        "from_status": str(from_status) if from_status else None,
        "to_status": str(to_status) if to_status else None,
        "actor": (actor or uow.scope.actor)[:80], "note": note, "data": data or {},
        "occurred_at": now,
    }])
    payload = {**event_payload(case), "fromStatus": str(from_status) if from_status else None,
               "toStatus": str(to_status) if to_status else None, "note": note,
               "actor": actor or uow.scope.actor, **(data or {})}
    await record_event(uow, tenant_id=case.tenant_id, type=f"refund_case.{type}",
                       aggregate_type="refund_case", aggregate_id=case.id, payload=payload)


def running_deadline(case: RefundCase) -> datetime | None:
    """The deadline whose clock runs in the case's status (None: paused or closed)."""
    state = case.state
    if state in (S.SUBMITTED, S.UNDER_REVIEW):
        return case.review_due_at
    if state in (S.APPROVED, S.PROCESSING, S.PAYOUT_FAILED):
        return case.completion_due_at
    return None


async def transition(
    uow: UnitOfWork, case: RefundCase, action: Action, *, type: str, note: str | None = None,
    data: dict[str, Any] | None = None, actor: str | None = None,
) -> RefundCase:
    """Move ``case`` (locked) through the transition table and record it."""
    source = case.state
    target = next_status(action, source)
    now = utcnow()
    case.status = target.value
    if target in _STAMPS:
        setattr(case, _STAMPS[target], now)
    case.next_due_at = running_deadline(case)
    await record_case_event(uow, case, type=type, note=note, from_status=source,
                            to_status=target, data=data, actor=actor)
    return case


async def terms_of(uow: UnitOfWork, case: RefundCase) -> PolicyTerms:
    """The policy version the case was judged under (stamped at intake)."""
    if case.policy_id is None or case.policy_tenant_id is None:
        return DEFAULT_TERMS
    found = await policies.versions_by_key(
        uow, [(case.tenant_id, case.policy_tenant_id, case.policy_id)])
    return judged_terms(case, found.get((case.policy_tenant_id, case.policy_id)))


def judged_terms(case: RefundCase, version: RefundPolicy | None) -> PolicyTerms:
    """The terms of the version a case names (its merchant's own policy, or its agency's
    template); the defaults when it names none."""
    if version is None:  # no policy was published when the case was judged
        return DEFAULT_TERMS
    own = version.tenant_id == case.tenant_id
    return PolicyTerms.of(version, PolicySource.MERCHANT if own else PolicySource.AGENCY_TEMPLATE)


def _note(value: str | None, name: str, *, required: bool) -> str | None:
    return validation.text(value, name, max_len=NOTE_MAX, required=required)


async def start_review(
    uow: UnitOfWork, tenant_id: uuid.UUID, case_id: uuid.UUID, *, assignee: str | None = None
) -> RefundCase:
    uow.scope.require(Permission.DECIDE_REFUNDS)
    case = await get_case(uow, tenant_id, case_id, lock=True)
    who = validation.text(assignee, "assignee", max_len=80, required=False) or uow.scope.actor[:80]
    next_status(Action.START_REVIEW, case.state)
    case.assignee = who
    return await transition(uow, case, Action.START_REVIEW, type="review_started",
                            data={"assignee": who})


async def assign(uow: UnitOfWork, tenant_id: uuid.UUID, case_id: uuid.UUID, *,
                 assignee: str) -> RefundCase:
    """Give an open case to someone (the status does not change): ``refund_case.assigned``."""
    uow.scope.require(Permission.DECIDE_REFUNDS)
    who = validation.text(assignee, "assignee", max_len=80)
    case = await get_case(uow, tenant_id, case_id, lock=True)
    if case.state in TERMINAL:
        raise InvalidState(f"a {case.status.lower()} case cannot be assigned", field=["id"])
    previous, case.assignee = case.assignee, who
    await record_case_event(uow, case, type="assigned",
                            data={"assignee": who, "previousAssignee": previous})
    return case


async def approve(
    uow: UnitOfWork, tenant_id: uuid.UUID, case_id: uuid.UUID, *, amount: Decimal | None = None,
    note: str | None = None, idempotency_key: str | None = None,
) -> RefundCase:
    """Approve in full (no amount) or in part; replays of ``idempotency_key`` return the case."""
    uow.scope.require(Permission.DECIDE_REFUNDS)
    RefundCaseRepository(uow).require_in_scope(tenant_id, what="refund case")
    if idempotency_key is not None:
        request = {"id": str(case_id), "amount": str(amount) if amount is not None else None,
                   "note": note}
        replay = await idempotency.claim(uow, tenant_id=tenant_id, operation="approveRefund",
                                         key=idempotency_key, request=request, result_id=case_id)
        if replay is not None:
            return await get_case(uow, tenant_id, replay)
    case = await get_case(uow, tenant_id, case_id, lock=True)
    next_status(Action.APPROVE, case.state)
    # The payment is read once, locked (after the case, as everywhere): the channel is
    # routed from it here and approve_locked changes its reservation.
    txn = await lock_transaction(uow, tenant_id, case.transaction_id)
    # An approval whose money has no way to go back is refused now, not at payout time.
    await channels.route(uow, tenant_id, txn.channel, case.method, get_settings())
    approved = case.requested_minor
    if amount is not None:
        approved = Money.parse(amount, case.currency).minor
        if approved > case.requested_minor:
            raise InvalidInput(f"the approved amount is more than the requested {case.requested}",
                               field=["amount"], code=RefundError.AMOUNT_EXCEEDS_REQUESTED)
    text = _note(note, "note", required=False)
    return await approve_locked(uow, case, approved, text, txn=txn)


async def approve_locked(uow: UnitOfWork, case: RefundCase, approved: int, note: str | None,
                         *, actor: str | None = None, txn: Transaction | None = None
                         ) -> RefundCase:
    """Approve ``case`` (locked). ``txn``: its payment when the caller already holds that
    row's lock (read after the case's); else it is locked here."""
    if txn is None:
        txn = await lock_transaction(uow, case.tenant_id, case.transaction_id)
    if approved < case.requested_minor:
        terms = await terms_of(uow, case)
        if not terms.allow_partial:
            raise InvalidInput("the policy does not allow partial refunds", field=["amount"],
                               code=RefundError.PARTIAL_REFUND_NOT_ALLOWED)
    # The case held its requested amount since intake; keep only what is approved.
    txn.reserved_minor -= case.requested_minor - approved
    case.approved_minor = approved
    case.decision_note = note
    return await transition(uow, case, Action.APPROVE, type="approved", note=note, actor=actor,
                            data={"autoApproved": actor is not None})


async def _close(uow: UnitOfWork, case: RefundCase, action: Action, *, type: str,
                 note: str | None) -> RefundCase:
    """Reject or cancel: release what the case holds and free its place under the cap."""
    held = case.held_minor
    next_status(action, case.state)
    txn = await lock_transaction(uow, case.tenant_id, case.transaction_id)
    txn.reserved_minor -= held
    txn.refund_count -= 1
    return await transition(uow, case, action, type=type, note=note, data={"releasedMinor": held})


async def reject(uow: UnitOfWork, tenant_id: uuid.UUID, case_id: uuid.UUID, *, reason: str
                 ) -> RefundCase:
    uow.scope.require(Permission.DECIDE_REFUNDS)
    text = _note(reason, "reason", required=True)
    case = await get_case(uow, tenant_id, case_id, lock=True)
    case.decision_note = text
    return await _close(uow, case, Action.REJECT, type="rejected", note=text)


async def consumer_case(uow: UnitOfWork, tenant_id: uuid.UUID, case_id: uuid.UUID
                        ) -> RefundCase:
    """A case of the receipt scope's own payment, row-locked; any other is *not found*."""
    uow.scope.require(Permission.APPLY_FOR_REFUND)
    case = await get_case(uow, tenant_id, case_id, lock=True)
    if not uow.scope.holds_receipt_of(case.tenant_id, case.transaction_id):
        raise NotFound("refund case not found", field=["id"])
    return case


async def cancel(uow: UnitOfWork, tenant_id: uuid.UUID, case_id: uuid.UUID, *,
                 reason: str | None = None) -> RefundCase:
    """Withdraw a request (submitters and the consumer's receipt may, while undecided) or
    stop an approved refund before its money moved (deciders only)."""
    consumer = uow.scope.receipt is not None
    if not consumer and not (uow.scope.can(Permission.DECIDE_REFUNDS)
                             or uow.scope.can(Permission.SUBMIT_REFUNDS)):
        uow.scope.require(Permission.DECIDE_REFUNDS)
    text = _note(reason, "reason", required=False)
    if consumer:
        case = await consumer_case(uow, tenant_id, case_id)
        if case.state not in UNDECIDED:  # decided: only the merchant may stop it now
            raise InvalidState(f"cannot cancel a case that is {case.status}", field=["id"])
    else:
        case = await get_case(uow, tenant_id, case_id, lock=True)
        if case.state not in UNDECIDED:
            uow.scope.require(Permission.DECIDE_REFUNDS)
    return await _close(uow, case, Action.CANCEL, type="cancelled", note=text)


async def _merchant_clock(uow: UnitOfWork, case: RefundCase) -> tuple[PolicyTerms, str, str]:
    terms = await terms_of(uow, case)
    merchant = await get_tenant(uow, case.tenant_id)
    return terms, merchant.timezone, merchant.country


async def request_info(uow: UnitOfWork, tenant_id: uuid.UUID, case_id: uuid.UUID, *,
                       message: str) -> RefundCase:
    """Ask the consumer for more; the review clock stops until the answer is recorded."""
    uow.scope.require(Permission.DECIDE_REFUNDS)
    text = _note(message, "message", required=True)
    case = await get_case(uow, tenant_id, case_id, lock=True)
    next_status(Action.REQUEST_INFO, case.state)
    case.review_paused_at = utcnow()
    return await transition(uow, case, Action.REQUEST_INFO, type="info_requested", note=text)


async def provide_info(uow: UnitOfWork, tenant_id: uuid.UUID, case_id: uuid.UUID, *,
                       message: str) -> RefundCase:
    """Record the consumer's answer (from their receipt, or by staff); both deadlines move
    forward by the paused SLA time."""
    consumer = uow.scope.receipt is not None
    if not consumer and not uow.scope.can(Permission.SUBMIT_REFUNDS):
        uow.scope.require(Permission.DECIDE_REFUNDS)
    text = _note(message, "message", required=True)
    case = await (consumer_case(uow, tenant_id, case_id) if consumer
                  else get_case(uow, tenant_id, case_id, lock=True))
    next_status(Action.PROVIDE_INFO, case.state)
    terms, tz, country = await _merchant_clock(uow, case)
    paused_from, now = case.review_paused_at or utcnow(), utcnow()
    previous = case.review_due_at
    case.review_due_at = policies.shift(terms, case.review_due_at, paused_from, now, tz, country)
    case.completion_due_at = policies.shift(terms, case.completion_due_at, paused_from, now, tz,
                                            country)
    case.review_paused_at = None
    return await transition(uow, case, Action.PROVIDE_INFO, type="info_provided", note=text,
                            data={"pausedSince": paused_from.isoformat(),
                                  "previousReviewDueAt": previous.isoformat()})


async def extend_deadline(uow: UnitOfWork, tenant_id: uuid.UUID, case_id: uuid.UUID, *,
                          until: datetime, reason: str) -> RefundCase:
    """Push the running deadline (review while undecided, else completion) to ``until``.

    The total extension per case is capped by the policy's maximum. The consumer must
    hear of it before the old deadline: that instant is stored on the case and sent in
    the event (``notifyConsumerBy``) for the notifier.
    """
    uow.scope.require(Permission.DECIDE_REFUNDS)
    text = _note(reason, "reason", required=True)
    until = validation.aware(until, "until")
    case = await get_case(uow, tenant_id, case_id, lock=True)
    next_status(Action.EXTEND_DEADLINE, case.state)
    review = case.state in UNDECIDED
    current = case.review_due_at if review else case.completion_due_at
    if until <= utcnow() or until <= current:
        raise InvalidInput("until must be in the future and after the current deadline",
                           field=["until"], code=CommonError.INVALID_DATETIME)
    terms = await terms_of(uow, case)
    added = until - current
    minutes = int(added.total_seconds() // 60) + (1 if added.total_seconds() % 60 else 0)
    if case.extension_used_minutes + minutes > terms.max_extension_hours * 60:
        raise InvalidInput(
            f"the policy allows at most {terms.max_extension_hours} h of extension per case",
            field=["until"], code=RefundError.EXTENSION_TOO_LONG)
    case.extension_used_minutes += minutes
    if review:
        case.review_due_at = until
    case.completion_due_at = case.completion_due_at + added if review else until
    case.extension_notice_due_at = current
    data = {"deadline": "review" if review else "completion", "previousDueAt": current.isoformat(),
            "newDueAt": until.isoformat(), "notifyConsumerBy": current.isoformat()}
    return await transition(uow, case, Action.EXTEND_DEADLINE, type="deadline_extended",
                            note=text, data=data)


# -- payout steps (called by the payout jobs) ------------------------------------------


async def begin_payout(uow: UnitOfWork, tenant_id: uuid.UUID, case_id: uuid.UUID) -> RefundCase:
    """APPROVED or PAYOUT_FAILED -> PROCESSING (the case row stays locked)."""
    uow.scope.require(Permission.DECIDE_REFUNDS)
    case = await get_case(uow, tenant_id, case_id, lock=True)
    case.payout_failure_reason = None if case.state == S.APPROVED else case.payout_failure_reason
    return await transition(uow, case, Action.BEGIN_PAYOUT, type="processing")


async def complete_payout(uow: UnitOfWork, tenant_id: uuid.UUID, case_id: uuid.UUID) -> RefundCase:
    """PROCESSING -> REFUNDED: the approved amount moves from reserved to refunded."""
    uow.scope.require(Permission.DECIDE_REFUNDS)
    case = await get_case(uow, tenant_id, case_id, lock=True)
    next_status(Action.COMPLETE_PAYOUT, case.state)
    amount = case.held_minor
    txn = await lock_transaction(uow, case.tenant_id, case.transaction_id)
    txn.reserved_minor -= amount
    txn.refunded_minor += amount
    return await transition(uow, case, Action.COMPLETE_PAYOUT, type="refunded",
                            data={"refundedMinor": amount})


async def fail_payout(uow: UnitOfWork, tenant_id: uuid.UUID, case_id: uuid.UUID, reason: str
                      ) -> RefundCase:
    """PROCESSING -> PAYOUT_FAILED; the reservation stays (a retry pays it, a cancel frees it)."""
    uow.scope.require(Permission.DECIDE_REFUNDS)
    text = validation.text(reason, "reason", max_len=500, required=False) or "payout failed"
    case = await get_case(uow, tenant_id, case_id, lock=True)
    next_status(Action.FAIL_PAYOUT, case.state)
    case.payout_failure_reason = text
    return await transition(uow, case, Action.FAIL_PAYOUT, type="payout_failed", note=text)


__all__ = [
    "approve",
    "assign",
    "begin_payout",
    "cancel",
    "cases_by_keys",
    "complete_payout",
    "count_event",
    "extend_deadline",
    "fail_payout",
    "get_case",
    "lock_transaction",
    "provide_info",
    "record_case_event",
    "reject",
    "request_info",
    "running_deadline",
    "start_review",
    "terms_of",
    "transition",
]
