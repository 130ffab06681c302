"""CROSS_MERCHANT_CONTACT: one consumer contact filed refund requests at many merchants of
the same agency in the last 30 days (a serial claimant working a POS provider's shops).

It reads the agency's other merchants, beyond the checked merchant's own scope (a
bounded read: one agency, one fingerprint). A request's scope cannot see them on
PostgreSQL (row-level security), so the rule runs in the periodic scan only."""

from __future__ import annotations

from datetime import timedelta

from qrefund.platform.risk.repository import AgencyContactRepository
from qrefund.platform.risk.rules import Check, Finding, score
from qrefund.platform.risk.thresholds import RuleSettings
from qrefund.platform.vocabulary import RiskRule

RULE = RiskRule.CROSS_MERCHANT_CONTACT
SUBJECT = "REFUND_CASE"
DEFAULT_THRESHOLD = 3.0  # merchants (this one included)
PERIOD = timedelta(days=30)
CONTACTS = (("contact_phone_fp", "contactPhone"), ("contact_email_fp", "contactEmail"))


async def check(ctx: Check, settings: RuleSettings) -> Finding | None:
    case = ctx.case
    assert case is not None
    agency = ctx.merchant.parent_id
    if not ctx.scan or agency is None:
        return None
    repo = AgencyContactRepository(ctx.uow)
    for column, kind in CONTACTS:
        fingerprint = getattr(case, column)
        if not fingerprint:
            continue
        found = await repo.merchants_with_contact(agency, column, fingerprint, ctx.now - PERIOD)
        merchants = {m for m, _ in found}
        if len(merchants) >= settings.threshold:
            # Evidence names only this merchant's cases: the others belong to other tenants.
            own = [c for m, c in found if m == ctx.merchant.id]
            return Finding(score=score(len(merchants), settings.threshold, base=60),
                           transactions=[ctx.txn.id], refund_cases=own,
                           figures={"by": kind, "observed": len(merchants),
                                    "threshold": settings.threshold, "periodDays": PERIOD.days})
    return None
