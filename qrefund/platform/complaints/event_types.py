"""The ``complaint.*`` events: when each fires and what its payload holds.

Payloads are :func:`qrefund.platform.complaints.events.snapshot` plus the
transition: never the description, the consumer's contact or an internal note.
"""

from __future__ import annotations

from qrefund.platform.complaints.vocabulary import ComplaintStatus
from qrefund.platform.outbox.catalogue import (
    BOOL,
    DATETIME,
    INT,
    OBJECT,
    TEXT,
    UUID,
    Family,
    nullable,
    one_of,
)

_STATUS = one_of(*(s.value for s in ComplaintStatus))

COMPLAINT_EVENTS = Family(
    name="complaint",
    aggregate_type="complaint",
    description="A complaint ticket: the support desk's work on a consumer's complaint.",
    events={
        "opened": "A ticket was opened; adds `derivedPriority`, `attachments`, `repeat`.",
        "assigned": "The ticket was assigned to an agent or team; adds `assignee`, `team`.",
        "replied": "Staff posted a reply the consumer sees; adds `message`, `firstResponse`.",
        "note_added": "Staff added an internal note (its text is never in the payload).",
        "info_requested": "Staff asked the consumer for information (status "
                          "WAITING_CUSTOMER, clocks paused); adds `message`.",
        "customer_replied": "The consumer answered; clocks run again.",
        "priority_changed": "The priority was overridden; adds `previousPriority`.",
        "resolved": "The ticket was resolved with a `resolution` code.",
        "reopened": "A resolved ticket was reopened within the window; adds "
                    "`previousResolution`.",
        "closed": "The ticket was closed (`automatic` when auto-closed).",
        "rated": "The consumer rated the resolution; adds `rating`.",
        "deadline_warning": "A first-response or resolution deadline is near.",
        "deadline_breached": "A deadline passed: escalation level 1.",
        "escalated": "The breach went on: the next escalation level.",
        "agency_notified": "Escalation level 2 or more: the merchant's agency is told.",
        "deadlines_shifted": "The merchant was reactivated after a suspension that froze its "
                             "open tickets: the running deadlines moved on by the frozen "
                             "time; adds `frozenFrom`, `frozenTo`, "
                             "`previousFirstResponseDueAt`, `previousResolutionDueAt`.",
    },
    snapshot={
        "ticketId": UUID, "ticketNumber": TEXT, "merchantId": UUID, "transactionId": UUID,
        "refundCaseId": nullable(UUID), "status": _STATUS, "priority": TEXT, "category": TEXT,
        "channel": nullable(TEXT), "assignee": nullable(TEXT), "team": nullable(TEXT),
        "escalationLevel": INT, "firstResponseDueAt": nullable(DATETIME),
        "resolutionDueAt": nullable(DATETIME), "firstRespondedAt": nullable(DATETIME),
        "waitingSince": nullable(DATETIME), "nextDueAt": nullable(DATETIME),
        "repeatOfId": nullable(UUID), "resolution": nullable(TEXT),
        "resolutionNote": nullable(TEXT), "followUpCaseId": nullable(UUID),
        "rating": nullable(INT), "reopenCount": INT, "policyVersion": nullable(INT),
        "fromStatus": nullable(_STATUS), "toStatus": nullable(_STATUS), "note": nullable(TEXT),
        "actor": TEXT,
    },
    extra={
        "derivedPriority": TEXT, "attachments": INT, "repeat": BOOL, "message": OBJECT,
        "firstResponse": BOOL, "previousPriority": TEXT, "previousResolution": nullable(TEXT),
        "automatic": BOOL, "messageId": UUID, "deadline": TEXT,
        "dueAt": DATETIME, "previousAssignee": nullable(TEXT), "agencyId": UUID,
        "frozenFrom": DATETIME, "frozenTo": DATETIME, "previousFirstResponseDueAt": DATETIME,
        "previousResolutionDueAt": DATETIME,
    },
)
