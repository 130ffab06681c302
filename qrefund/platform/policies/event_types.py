"""The ``refund_policy.*`` events."""

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
)

REFUND_POLICY_EVENTS = Family(
    name="refund_policy",
    aggregate_type="refund_policy",
    description="A merchant's (or an agency's template) refund policy, versioned.",
    events={"published": "A new version was published; cases filed from now on use it."},
    snapshot={
        "policyId": UUID, "ownerId": UUID, "version": INT, "ownerKind": TEXT,
        "refundWindowDays": INT, "reviewSlaHours": INT, "completionSlaHours": INT,
        "maxExtensionHours": INT, "allowPartial": BOOL, "maxRefundsPerTransaction": INT,
        "allowedMethods": {"type": "array", "items": TEXT},
        "autoApproveMaxMinor": nullable(MINOR), "autoApproveCurrency": nullable(CURRENCY),
        "slaClock": TEXT, "publishedAt": nullable(DATETIME),
    },
)
