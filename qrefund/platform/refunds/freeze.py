"""A merchant's refund cases after a FREEZE suspension: their deadlines move on.

While a merchant's open cases are frozen (see :mod:`qrefund.tenants.lifecycle`) the
deadline sweep leaves them alone; at reactivation each case whose clock was running
gets both deadlines moved forward by the SLA time the freeze lasted (working time
under a business-hours policy, as a pause does), and a ``refund_case.deadlines_shifted``
event on its timeline. A case waiting for the consumer (AWAITING_INFO) is left as it
is: its pause already covers the frozen span, and the answer moves its deadlines.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from qrefund.platform.db import UnitOfWork
from qrefund.platform.policies import service as policies
from qrefund.platform.policies.terms import PolicyTerms
from qrefund.platform.refunds.models import RefundCase
from qrefund.platform.refunds.repository import RefundCaseRepository
from qrefund.platform.refunds.service import judged_terms, record_case_event, running_deadline
from qrefund.platform.repository import Key
from qrefund.platform.vocabulary import RefundCaseStatus as S
from qrefund.tenants.service import get_tenant

# The statuses with a running deadline (review, then completion).
RUNNING = (S.SUBMITTED, S.UNDER_REVIEW, S.APPROVED, S.PROCESSING, S.PAYOUT_FAILED)


async def _terms(uow: UnitOfWork, cases: list[RefundCase]) -> dict[uuid.UUID, PolicyTerms]:
    """Each case's judged terms, with one read of the policy versions they name."""
    keys = sorted({(c.tenant_id, c.policy_tenant_id, c.policy_id) for c in cases
                   if c.policy_id is not None and c.policy_tenant_id is not None})
    found = await policies.versions_by_key(uow, keys) if keys else {}
    return {c.id: judged_terms(c, found.get((c.policy_tenant_id, c.policy_id)))  # type: ignore[arg-type]
            for c in cases}


async def shift_frozen_cases(uow: UnitOfWork, tenant_id: uuid.UUID, started_at: datetime,
                             ended_at: datetime) -> list[Key]:
    """Move the running deadlines of the merchant's cases on by the frozen span; returns
    the keys of the cases moved."""
    cases = await RefundCaseRepository(uow).of_tenant_in(tenant_id, RUNNING, lock=True)
    if not cases:
        return []
    merchant = await get_tenant(uow, tenant_id)
    terms = await _terms(uow, cases)
    moved: list[Key] = []
    for case in cases:
        clock = terms[case.id]
        review, completion = case.review_due_at, case.completion_due_at
        case.review_due_at = policies.shift(clock, review, started_at, ended_at,
                                            merchant.timezone, merchant.country)
        case.completion_due_at = policies.shift(clock, completion, started_at, ended_at,
                                                merchant.timezone, merchant.country)
        case.next_due_at = running_deadline(case)
        await record_case_event(uow, case, type="deadlines_shifted", note=None, data={
            "frozenFrom": started_at.isoformat(), "frozenTo": ended_at.isoformat(),
            "previousReviewDueAt": review.isoformat(),
            "previousCompletionDueAt": completion.isoformat()})
        moved.append((case.tenant_id, case.id))
    return moved
