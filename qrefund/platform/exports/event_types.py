"""The ``export.*`` events: platform bookkeeping that starts the export job (not
offered to webhooks or the feed)."""

from __future__ import annotations

from qrefund.platform.outbox.catalogue import TEXT, Family, one_of

EXPORT_EVENTS = Family(
    name="export",
    aggregate_type="export",
    description="A file of refund cases or transactions, written by a background job.",
    events={"requested": "An export was asked for; its job starts after commit."},
    snapshot={"kind": one_of("REFUND_CASES", "TRANSACTIONS"), "format": one_of("CSV", "JSONL")},
    extra={"status": TEXT},
    public=False,
)
