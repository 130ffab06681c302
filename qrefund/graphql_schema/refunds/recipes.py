"""How PostgreSQL renders a refund case's plain fields (``RefundCaseType.of``), its
payment and its latest timeline entry (``RefundCaseEventType.of``), for a page read with
both joined (:mod:`qrefund.graphql_schema.rendering`)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from qrefund.graphql_schema.rendering import Nested, Recipe, money
from qrefund.graphql_schema.transactions.recipes import transaction_recipes
from qrefund.platform import json_render as jr
from qrefund.platform.refunds.models import RefundCase, RefundCaseEvent

_INSTANTS = {
    "reviewDueAt": "review_due_at", "completionDueAt": "completion_due_at",
    "nextDueAt": "next_due_at", "reviewPausedAt": "review_paused_at",
    "extensionNoticeDueAt": "extension_notice_due_at", "createdAt": "created_at",
    "updatedAt": "updated_at", "reviewStartedAt": "review_started_at",
    "infoRequestedAt": "info_requested_at", "approvedAt": "approved_at",
    "rejectedAt": "rejected_at", "cancelledAt": "cancelled_at",
    "processingAt": "processing_at", "refundedAt": "refunded_at",
    "payoutFailedAt": "payout_failed_at",
}
_VALUES = {
    "caseNumber": "case_number", "status": "status", "reason": "reason",
    "channel": "channel", "method": "method", "description": "description",
    "escalationLevel": "escalation_level", "assignee": "assignee",
    "decisionNote": "decision_note", "payoutFailureReason": "payout_failure_reason",
    "policyVersion": "policy_version",
}


@cache
def event_recipes() -> Mapping[str, Recipe]:
    e = RefundCaseEvent
    return {"seq": jr.Value(e.seq), "type": jr.Value(e.type), "fromStatus": jr.Value(e.from_status),
            "toStatus": jr.Value(e.to_status), "actor": jr.Value(e.actor),
            "note": jr.Value(e.note), "occurredAt": jr.Instant(e.occurred_at)}


@cache
def case_recipes() -> Mapping[str, Recipe]:
    """The page's case (``transaction``: its payment joined; ``lastEvent``: its latest
    entry joined, NULL columns when it has none)."""
    c = RefundCase
    recipes: dict[str, Recipe] = {
        "id": jr.GlobalId("RefundCase", (c.tenant_id, c.id)),
        "requestedAmount": money(c.requested_minor, c.currency),
        "approvedAmount": money(c.approved_minor, c.currency, nullable=True),
        "merchantId": jr.GlobalId("Tenant", (c.tenant_id,)),
        "transactionId": jr.GlobalId("Transaction", (c.tenant_id, c.transaction_id)),
        # The payment is the case's by a foreign key: the join always finds it.
        "transaction": Nested(transaction_recipes()),
        "lastEvent": Nested(event_recipes(), present=RefundCaseEvent.seq),
    }
    recipes |= {name: jr.Value(getattr(c, attr)) for name, attr in _VALUES.items()}
    recipes |= {name: jr.Instant(getattr(c, attr)) for name, attr in _INSTANTS.items()}
    return recipes
