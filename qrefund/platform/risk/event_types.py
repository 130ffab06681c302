"""The ``transaction.flagged`` and ``refund_case.flagged`` events.

They belong to the ``transaction`` and ``refund_case`` families (same subject, same
snapshot) but are the risk domain's to declare: :func:`with_flag_events` adds them to
those families where the catalogue is assembled (qrefund.platform.events).
"""

from __future__ import annotations

from dataclasses import replace

from qrefund.platform.outbox.catalogue import INT, UUID, Family, one_of
from qrefund.platform.risk.models import FlagSeverity
from qrefund.platform.vocabulary import RiskRule

FLAG_FIELDS = {"flagId": UUID, "rule": one_of(*(r.value for r in RiskRule)),
               "severity": one_of(*(s.value for s in FlagSeverity)), "score": INT}

FLAGGED = {
    "transaction": "An anomaly rule flagged the payment; adds `flagId`, `rule`, `severity` "
                   "and `score` (0-100). Once per payment and rule.",
    "refund_case": "An anomaly rule flagged the case (auto-approval will not take it); adds "
                   "`flagId`, `rule`, `severity` and `score` (0-100). Once per case and rule.",
}


def with_flag_events(family: Family) -> Family:
    """``family`` with its ``flagged`` event (for the transaction and refund case families)."""
    return replace(family, events={**family.events, "flagged": FLAGGED[family.name]},
                   extra={**family.extra, **FLAG_FIELDS})

