"""The ``transaction.*`` events (platform bookkeeping: integrators push transactions,
so these are not offered to webhooks or the feed)."""

from __future__ import annotations

from qrefund.platform.outbox.catalogue import BOOL, CURRENCY, TEXT, Family, nullable

_SNAPSHOT_OF_RECORD = {"merchantOrderNo": TEXT, "amount": TEXT, "currency": CURRENCY,
                       "status": TEXT, "channel": TEXT}

TRANSACTION_EVENTS = Family(
    name="transaction",
    aggregate_type="transaction",
    description="A payment recorded by the merchant or its integration.",
    events={
        "recorded": "A transaction was recorded (`amount` as a decimal string).",
        "status_changed": "The integration reported a new status; adds `previousStatus`.",
        "receipt_revoked": "The receipt token was revoked (and reissued when `reissued`); "
                           "carries only `reissued`.",
    },
    snapshot={},
    extra={**_SNAPSHOT_OF_RECORD, "previousStatus": nullable(TEXT), "reissued": BOOL},
    public=False,
)
