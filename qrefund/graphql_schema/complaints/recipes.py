"""How PostgreSQL renders a complaint ticket's plain fields (``ComplaintTicketType.of``)
and its payment, for a page read with the payment joined
(:mod:`qrefund.graphql_schema.rendering`)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from qrefund.graphql_schema.rendering import Nested, Recipe
from qrefund.graphql_schema.transactions.recipes import transaction_recipes
from qrefund.platform import json_render as jr
from qrefund.platform.complaints.models import ComplaintTicket, is_repeat_of
from qrefund.platform.transactions.models import Transaction

_VALUES = {
    "ticketNumber": "ticket_number", "status": "status", "priority": "priority",
    "category": "category", "description": "description", "channel": "channel",
    "assignee": "assignee", "team": "team", "escalationLevel": "escalation_level",
    "resolution": "resolution", "resolutionNote": "resolution_note", "rating": "rating",
    "ratingComment": "rating_comment", "reopenCount": "reopen_count",
    "policyVersion": "policy_version",
}
_INSTANTS = {
    "firstResponseDueAt": "first_response_due_at", "resolutionDueAt": "resolution_due_at",
    "firstRespondedAt": "first_responded_at", "nextDueAt": "next_due_at",
    "waitingSince": "waiting_since", "ratedAt": "rated_at", "createdAt": "created_at",
    "updatedAt": "updated_at", "resolvedAt": "resolved_at", "closedAt": "closed_at",
    "reopenedAt": "reopened_at", "autoCloseAt": "auto_close_at",
}


@cache
def ticket_recipes() -> Mapping[str, Recipe]:
    """The page's ticket (``transaction``: its payment joined; NULL columns when the
    ticket names none)."""
    t = ComplaintTicket
    recipes: dict[str, Recipe] = {
        "id": jr.GlobalId("ComplaintTicket", (t.tenant_id, t.id)),
        "merchantId": jr.GlobalId("Tenant", (t.tenant_id,)),
        "isRepeat": jr.Value(is_repeat_of()),
        "transaction": Nested(transaction_recipes(), present=Transaction.id),
    }
    recipes |= {name: jr.Value(getattr(t, attr)) for name, attr in _VALUES.items()}
    recipes |= {name: jr.Instant(getattr(t, attr)) for name, attr in _INSTANTS.items()}
    return recipes
