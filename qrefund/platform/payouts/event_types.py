"""The ``payout.*`` events: one per payout attempt's status change."""

from __future__ import annotations

from qrefund.platform.outbox.catalogue import (
    CURRENCY,
    INT,
    MINOR,
    TEXT,
    UUID,
    Family,
    nullable,
    one_of,
)
from qrefund.platform.payouts.models import PayoutStatus

PAYOUT_EVENTS = Family(
    name="payout",
    aggregate_type="payout",
    description="One attempt to pay a refund case's money back through a channel.",
    events={
        "created": "An attempt was created (status PENDING) with its idempotency key.",
        "processing": "The channel accepted the refund and is still working on it.",
        "succeeded": "The channel paid the money back.",
        "failed": "The channel refused for good (`failureCode`, `failureReason`).",
        "discrepancy": "Reconciliation found the provider disagreeing with the payout; adds "
                       "`discrepancy` and `providerStatus` (flagged once); when found in "
                       "the provider's refund bill, `providerAmountMinor` (the bill's "
                       "amount; `providerStatus` ABSENT: no row for it).",
    },
    snapshot={
        "payoutId": UUID, "caseId": UUID, "attempt": INT,
        "status": one_of(*(s.value for s in PayoutStatus)), "amountMinor": MINOR,
        "currency": CURRENCY, "method": TEXT, "adapter": TEXT, "outRefundNo": TEXT,
        "providerRefundId": nullable(TEXT), "failureCode": nullable(TEXT),
        "failureReason": nullable(TEXT),
    },
    extra={"discrepancy": TEXT, "providerStatus": TEXT, "providerAmountMinor": MINOR},
)
