"""The ``transaction_import.*`` events: platform bookkeeping that starts the import job
(not offered to webhooks or the feed)."""

from __future__ import annotations

from qrefund.platform.outbox.catalogue import TEXT, Family, one_of

TRANSACTION_IMPORT_EVENTS = Family(
    name="transaction_import",
    aggregate_type="transaction_import",
    description="A file of transactions uploaded for one merchant, recorded by a job.",
    events={"requested": "A file was uploaded; its job starts after commit."},
    snapshot={"format": one_of("CSV", "JSONL")},
    extra={"status": TEXT},
    public=False,
)
