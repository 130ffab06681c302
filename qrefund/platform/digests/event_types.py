"""The ``digest.*`` event: a merchant's or agency's daily digest (smart reminders)."""

from __future__ import annotations

from qrefund.platform.outbox.catalogue import INT, OBJECT, TEXT, UUID, Family, nullable

_SECTION = {"type": "object", "properties": {
    "key": TEXT, "title": TEXT, "count": INT, "rows": {"type": "array", "items": OBJECT}},
    "required": ["key", "count", "rows"]}

DIGEST_EVENTS = Family(
    name="digest", aggregate_type="digest",
    description="A daily digest: what needs attention at a merchant or across an agency's "
                "merchants, made once per tenant and local day, in the tenant's own stream "
                "(its subject: the tenant).",
    events={"daily": "The day's digest, made after the digest hour in the tenant's time zone "
                     "when at least one section has something to say (none when all are "
                     "empty). Sections: `nearDeadline`, `breachedLastDay`, "
                     "`unansweredComplaints` (refund cases and tickets by number, merchant "
                     "and deadline; no consumer data), `openRiskFlags` (anomaly flags "
                     "awaiting review, per merchant, rule and severity)."},
    snapshot={"tenantId": UUID, "tenantKind": TEXT, "day": TEXT,
              "merchantIds": {"type": "array", "items": UUID},
              "sections": {"type": "array", "items": _SECTION}},
    extra={"emailedTo": nullable(TEXT)},
)
