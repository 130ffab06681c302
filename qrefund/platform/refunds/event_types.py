"""The ``refund_case.*`` events: when each fires and what its payload holds."""

from __future__ import annotations

from qrefund.platform.outbox.catalogue import (
    BOOL,
    CURRENCY,
    DATETIME,
    INT,
    MINOR,
    TEXT,
    UUID,
    Family,
    nullable,
    one_of,
)
from qrefund.platform.vocabulary import RefundCaseStatus

_STATUS = one_of(*(s.value for s in RefundCaseStatus))

REFUND_CASE_EVENTS = Family(
    name="refund_case",
    aggregate_type="refund_case",
    description="A refund case: the consumer's request, its review, decision and payout.",
    events={
        "submitted": "A request was filed (API, receipt page or integration).",
        "review_started": "A reviewer took the case (or auto-approval began); adds `assignee`.",
        "assigned": "The case was given to someone else (status unchanged); adds `assignee` "
                    "and `previousAssignee`.",
        "info_requested": "The merchant asked the consumer for information (`note`: the question).",
        "info_provided": "The consumer answered an information request.",
        "approved": "The case was approved for `approvedMinor`; adds `autoApproved`.",
        "rejected": "The case was rejected (`note`: the reason); adds `releasedMinor`.",
        "cancelled": "The consumer or merchant cancelled the case; adds `releasedMinor`.",
        "deadline_extended": "The review or completion deadline was moved (`note`: why).",
        "processing": "The payout started at the channel.",
        "refunded": "The money is back with the consumer.",
        "payout_failed": "The channel refused the payout for good (`note`: the channel's reason).",
        "deadline_warning": "A deadline is near; adds `deadline` and `dueAt`.",
        "deadline_breached": "A deadline passed: escalation level 1, reassignment to the "
                             "escalation contact; adds `deadline`, `dueAt`, `previousAssignee`.",
        "escalated": "The breach went on: the next escalation level.",
        "agency_notified": "Escalation level 2 or more: the merchant's agency is told; adds "
                           "`agencyId`.",
        "deadlines_shifted": "The merchant was reactivated after a suspension that froze its "
                             "open cases: the running deadlines moved on by the frozen time; "
                             "adds `frozenFrom`, `frozenTo`, `previousReviewDueAt`, "
                             "`previousCompletionDueAt`.",
    },
    snapshot={
        "caseId": UUID, "caseNumber": TEXT, "transactionId": UUID, "merchantId": UUID,
        "status": _STATUS, "amountMinor": MINOR, "requestedMinor": MINOR,
        "approvedMinor": nullable(MINOR), "currency": CURRENCY, "method": nullable(TEXT),
        "reason": TEXT, "escalationLevel": INT, "reviewDueAt": DATETIME,
        "completionDueAt": DATETIME, "fromStatus": nullable(_STATUS),
        "toStatus": nullable(_STATUS), "note": nullable(TEXT), "actor": TEXT,
    },
    extra={
        "assignee": nullable(TEXT), "previousAssignee": nullable(TEXT),
        "autoApproved": BOOL, "releasedMinor": MINOR, "policyVersion": INT,
        "riskFlags": {"type": "array", "items": TEXT}, "deadline": TEXT, "dueAt": DATETIME,
        "agencyId": UUID, "frozenFrom": DATETIME, "frozenTo": DATETIME,
        "previousReviewDueAt": DATETIME, "previousCompletionDueAt": DATETIME,
    },
)
