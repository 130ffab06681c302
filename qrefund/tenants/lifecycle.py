"""A merchant's lifecycle: suspend, reactivate, close.

* **Suspended**: the merchant's data stays readable, its keys keep working read-only,
  and nothing new is written for it: no transaction, refund request, decision or
  complaint, through the API, the receipt page or a bulk call. The wall is the
  session's flush guard (:func:`qrefund.platform.repository._check_frozen`), fed by
  the scope's ``frozen_tenant_ids``, which the auth layer fills from tenant statuses.
  Cases already open go on: the platform's own jobs (deadline sweep, payouts,
  notifications) run in the system scope and finish what was started.
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

from qrefund.platform import validation
from qrefund.platform.clock import utcnow
from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import CommonError, Forbidden, InvalidInput, NotFound
from qrefund.platform.outbox.service import record_event
from qrefund.platform.roles import Permission
from qrefund.platform.scope import TenantKind
from qrefund.tenants import revocation
from qrefund.tenants.models import ACTIVE, CLOSED, SUSPENDED, Tenant
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


async def change_status(uow: UnitOfWork, merchant_id: uuid.UUID, action: str,
                        reason: str | None) -> Tenant:
    """Suspend, reactivate or close (``action``: an event name of :data:`_MOVES`)."""
    sources, target = _MOVES[action]
    merchant = await _merchant(uow, merchant_id)
    text = validation.text(reason, "reason", max_len=500, required=action != "reactivated")
    if merchant.status not in sources:
        raise InvalidInput(f"a {merchant.status.lower()} merchant cannot be {action}",
                           field=["id"], code=CommonError.INVALID_STATE)
    merchant.status = target
    merchant.status_reason = text
    merchant.status_changed_at = utcnow()
    TenantRecordRepository(uow).add(merchant)
    # Keys of the merchant (and its agency's) change meaning: cached scopes are dropped.
    uow.after_commit(revocation.announce_tenants_changed)
    owner = merchant.parent_id
    assert owner is not None  # every merchant has a parent (its agency or the operator)
    await record_event(uow, tenant_id=owner, type=f"tenant.{action}", aggregate_type="tenant",
                       aggregate_id=merchant.id, payload={
                           "kind": merchant.kind, "slug": merchant.slug,
                           "merchantId": str(merchant.id), "status": target, "reason": text})
    return merchant
