"""A merchant's lifecycle: suspend, reactivate, close.

* **Suspended**: the merchant's data stays readable, its keys keep working read-only,
  and nothing new is written for it: no transaction, refund request, decision or
  complaint, through the API, the receipt page or a bulk call. The wall is the
  session's flush guard (:func:`qrefund.platform.repository._check_frozen`), fed by
  the scope's ``frozen_tenant_ids``, which the auth layer fills from tenant statuses.
  What happens to the cases already open is the suspender's choice (``open_cases``):

  - ``CONTINUE`` (the default): they go on. The platform's own jobs (deadline sweep,
    payouts, notifications) run in job scopes, which never freeze a tenant, so the
    flush guard lets them finish what was started: deadlines warn, breach and
    escalate, approved refunds are paid out.
  - ``FREEZE``: they wait. The deadline sweep skips the merchant's timers and the
    payout jobs make no new attempt (a call already sent is still recorded); on
    reactivation every running deadline moves on by the time spent frozen
    (:mod:`qrefund.platform.deadlines.freeze`), with an event per case.
* **Closed**: final. The data is kept (nothing is deleted); the merchant's own keys
  are refused (401, and open sockets close at their next key check); its agency
  still reads it, read-only.

Only the merchant's agency (an ``ADMIN`` key of it) or the operator changes the
status. Each change is an event in the agency's stream (the merchant's own stream
cannot be written once it is frozen): ``tenant.suspended``, ``tenant.reactivated``,
``tenant.closed``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from qrefund.platform import validation
from qrefund.platform.clock import utcnow
from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import CommonError, Forbidden, InvalidInput, NotFound
from qrefund.platform.outbox.service import record_event
from qrefund.platform.roles import Permission
from qrefund.platform.scope import TenantKind
from qrefund.tenants import revocation
from qrefund.tenants.models import ACTIVE, CLOSED, CONTINUE, FREEZE, SUSPENDED, Tenant
from qrefund.tenants.repository import TenantRecordRepository

# action -> (statuses it starts from, status it leads to)
_MOVES = {
    "suspended": (frozenset({ACTIVE}), SUSPENDED),
    "reactivated": (frozenset({SUSPENDED}), ACTIVE),
    "closed": (frozenset({ACTIVE, SUSPENDED}), CLOSED),
}


async def _merchant(uow: UnitOfWork, merchant_id: uuid.UUID) -> Tenant:
    scope = uow.scope
    scope.require(Permission.MANAGE_TENANTS)
    if scope.actor_kind == TenantKind.MERCHANT:
        raise Forbidden("a merchant cannot change its own status; its agency can")
    merchant = await TenantRecordRepository(uow).require(
        merchant_id, merchant_id, what="merchant", field=["id"], lock=True)
    if merchant.kind != TenantKind.MERCHANT:
        raise NotFound("merchant not found", field=["id"])
    if merchant.id == scope.actor_tenant_id:
        raise Forbidden("a key cannot change its own tenant's status")
    return merchant


@dataclass(frozen=True)
class Freeze:
    """The span a merchant's open cases were frozen for (a FREEZE suspension)."""

    merchant_id: uuid.UUID
    started_at: datetime
    ended_at: datetime


async def change_status(uow: UnitOfWork, merchant_id: uuid.UUID, action: str,
                        reason: str | None, *, open_cases: str | None = None) -> Tenant:
    """Suspend, reactivate or close (``action``: an event name of :data:`_MOVES`).
    ``open_cases`` (suspensions only): CONTINUE (the default) or FREEZE."""
    merchant, _ = await _change(uow, merchant_id, action, reason, open_cases)
    return merchant


async def reactivate(uow: UnitOfWork, merchant_id: uuid.UUID, reason: str | None
                     ) -> tuple[Tenant, Freeze | None]:
    """Lift a suspension; returns the freeze it ends, if its cases were frozen (the
    caller moves their deadlines on: :mod:`qrefund.platform.deadlines.freeze`)."""
    return await _change(uow, merchant_id, "reactivated", reason, None)


async def _change(uow: UnitOfWork, merchant_id: uuid.UUID, action: str, reason: str | None,
                  open_cases: str | None) -> tuple[Tenant, Freeze | None]:
    sources, target = _MOVES[action]
    if open_cases not in (None, CONTINUE, FREEZE):
        raise InvalidInput("openCases is CONTINUE or FREEZE", field=["openCases"])
    merchant = await _merchant(uow, merchant_id)
    text = validation.text(reason, "reason", max_len=500, required=action != "reactivated")
    if merchant.status not in sources:
        raise InvalidInput(f"a {merchant.status.lower()} merchant cannot be {action}",
                           field=["id"], code=CommonError.INVALID_STATE)
    now = utcnow()
    freeze = None
    if action == "reactivated" and merchant.open_cases == FREEZE:
        freeze = Freeze(merchant.id, merchant.status_changed_at or now, now)
    if action == "suspended":
        merchant.open_cases = open_cases or CONTINUE
    elif action == "reactivated":
        merchant.open_cases = None  # a closed merchant keeps what its suspension chose
    merchant.status = target
    merchant.status_reason = text
    merchant.status_changed_at = now
    TenantRecordRepository(uow).add(merchant)
    # Keys of the merchant (and its agency's) change meaning: cached scopes are dropped.
    uow.after_commit(revocation.announce_tenants_changed)
    owner = merchant.parent_id
    assert owner is not None  # every merchant has a parent (its agency or the operator)
    await record_event(uow, tenant_id=owner, type=f"tenant.{action}", aggregate_type="tenant",
                       aggregate_id=merchant.id, payload={
                           "kind": merchant.kind, "slug": merchant.slug,
                           "merchantId": str(merchant.id), "status": target, "reason": text,
                           "openCases": merchant.open_cases,
                           "frozenSince": freeze.started_at.isoformat() if freeze else None})
    return merchant, freeze


def cases_frozen(merchant: Tenant) -> bool:
    """Whether the merchant's open cases wait (a FREEZE suspension, or a closing after
    one): the deadline sweep and the payout jobs leave them alone."""
    return merchant.status != ACTIVE and merchant.open_cases == FREEZE


async def frozen_case_tenants(uow: UnitOfWork, tenant_ids: set[uuid.UUID]
                              ) -> frozenset[uuid.UUID]:
    """Those of ``tenant_ids`` whose open cases are frozen (in the unit's scope)."""
    found = await TenantRecordRepository(uow).by_ids(tenant_ids)
    return frozenset(t.id for t in found.values() if cases_frozen(t))
