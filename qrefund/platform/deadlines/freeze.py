"""Reactivating a merchant whose open cases were frozen: their deadlines move on.

A FREEZE suspension (:mod:`qrefund.tenants.lifecycle`) makes the deadline sweep
skip the merchant's timers (:func:`qrefund.platform.deadlines.service.sweep`) and
the payout jobs wait. Reactivation lifts the suspension and, in the same unit of
work, has every deadline subject (refund cases, complaint tickets: the subjects
table) move its running deadlines on by the frozen span, then brings their timers
back in step, so the merchant is not punished for the time it could not act.
"""

from __future__ import annotations

import uuid

from qrefund.platform.db import UnitOfWork
from qrefund.platform.deadlines.service import SweepPolicy, sync
from qrefund.platform.deadlines.subjects import SUBJECTS
from qrefund.tenants import lifecycle
from qrefund.tenants.auth import thawed
from qrefund.tenants.models import Tenant


async def reactivate(uow: UnitOfWork, merchant_id: uuid.UUID, reason: str | None,
                     policy: SweepPolicy) -> tuple[Tenant, int]:
    """Lift a merchant's suspension; returns it and how many subjects' deadlines moved."""
    merchant, freeze = await lifecycle.reactivate(uow, merchant_id, reason)
    if freeze is None:
        return merchant, 0
    # The caller's scope was built while the merchant was suspended (read-only): it is
    # active again from here on, in this unit too.
    uow.scope = thawed(uow.scope, frozenset({merchant.id}))
    moved = 0
    for subject in SUBJECTS:
        keys = await subject.thaw(uow, merchant.id, freeze.started_at, freeze.ended_at)
        await uow.flush()
        for tenant_id, subject_id in keys:
            await sync(uow, subject.type, tenant_id, subject_id, policy)
        moved += len(keys)
    return merchant, moved
