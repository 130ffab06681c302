"""The complaint vocabulary (names clients rely on: never renamed)."""

from __future__ import annotations

from enum import StrEnum

from qrefund.platform.policies.complaint_sla import ComplaintPriority


class ComplaintCategory(StrEnum):
    REFUND_DELAY = "REFUND_DELAY"
    REFUND_REJECTED = "REFUND_REJECTED"
    WRONG_AMOUNT = "WRONG_AMOUNT"
    SERVICE = "SERVICE"
    QUALITY = "QUALITY"
    OTHER = "OTHER"


class ComplaintStatus(StrEnum):
    OPEN = "OPEN"
    IN_PROGRESS = "IN_PROGRESS"
    WAITING_CUSTOMER = "WAITING_CUSTOMER"
    RESOLVED = "RESOLVED"
    CLOSED = "CLOSED"


class ComplaintResolution(StrEnum):
    REFUND_ISSUED = "REFUND_ISSUED"
    REFUND_RECONSIDERED = "REFUND_RECONSIDERED"
    EXPLAINED = "EXPLAINED"
    GOODWILL = "GOODWILL"
    REJECTED = "REJECTED"


class AssigneeKind(StrEnum):
    """What ``assignComplaint`` names: a support agent, or a team/queue (no agent yet)."""

    AGENT = "AGENT"
    TEAM = "TEAM"


class AuthorKind(StrEnum):
    """Who wrote a message of the thread."""

    STAFF = "STAFF"
    CONSUMER = "CONSUMER"


# Resolutions that may open a follow-up refund case on the same payment.
REFUNDING = frozenset({ComplaintResolution.REFUND_ISSUED, ComplaintResolution.REFUND_RECONSIDERED,
                       ComplaintResolution.GOODWILL})

__all__ = [
    "REFUNDING",
    "AssigneeKind",
    "AuthorKind",
    "ComplaintCategory",
    "ComplaintPriority",
    "ComplaintResolution",
    "ComplaintStatus",
]
