"""REPEATED_DESTINATION: many refund requests at the merchant in the last 30 days go to one
bank account or come from one consumer contact (phone or e-mail). Compared by keyed
fingerprints of the normalised values; the values themselves are never read or logged."""

from __future__ import annotations

from datetime import timedelta

from qrefund.platform.risk.repository import SignalRepository
from qrefund.platform.risk.rules import Check, Finding, score
from qrefund.platform.risk.thresholds import RuleSettings
from qrefund.platform.vocabulary import RiskRule

RULE = RiskRule.REPEATED_DESTINATION
SUBJECT = "REFUND_CASE"
DEFAULT_THRESHOLD = 3.0  # requests (this one included)
PERIOD = timedelta(days=30)
FINGERPRINTS = (("bank_destination_fp", "destinationAccount"),
                ("contact_phone_fp", "contactPhone"), ("contact_email_fp", "contactEmail"))


async def check(ctx: Check, settings: RuleSettings) -> Finding | None:
    case = ctx.case
    assert case is not None
    repo = SignalRepository(ctx.uow)
    for column, kind in FINGERPRINTS:
        fingerprint = getattr(case, column)
        if not fingerprint:
            continue
        cases = await repo.cases_with(ctx.merchant.id, column, fingerprint, ctx.now - PERIOD)
        if len(cases) >= settings.threshold:
            return Finding(score=score(len(cases), settings.threshold, base=60),
                           transactions=[ctx.txn.id], refund_cases=cases,
                           figures={"by": kind, "observed": len(cases),
                                    "threshold": settings.threshold,
                                    "periodDays": PERIOD.days})
    return None
