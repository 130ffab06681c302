"""What moves to the archive with a closed subject, and what keeps a subject live.

A subject is archived with every row that depends on it (children, and their children,
parents listed before children); a subject that a live row still names (a ticket
about a case, a ticket repeating a ticket) stays until that row is archived too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table

from qrefund.platform.complaints.models import (
    ComplaintAttachment,
    ComplaintEvent,
    ComplaintMessage,
    ComplaintTicket,
)
from qrefund.platform.consumer.models import EvidenceFile
from qrefund.platform.payouts.models import Payout, PayoutEvent
from qrefund.platform.refunds.models import RefundCase, RefundCaseEvent, RefundEvidence


def _table(model: Any) -> Table:
    return model.__table__  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Child:
    table: Table
    column: str  # names the parent's id
    parent: str  # the parent's table


@dataclass(frozen=True)
class SubjectPlan:
    subject_type: str
    table: Table
    number: str  # the column holding the human-readable number
    closed_statuses: tuple[str, ...]
    closed_at: str  # the column the age is measured from
    children: tuple[Child, ...]
    blockers: tuple[tuple[Table, str], ...]  # live rows naming the subject by this column


TICKETS = SubjectPlan(
    subject_type="ComplaintTicket", table=_table(ComplaintTicket), number="ticket_number",
    closed_statuses=("CLOSED",), closed_at="closed_at",
    children=(Child(_table(ComplaintMessage), "ticket_id", "complaint_tickets"),
              Child(_table(ComplaintEvent), "ticket_id", "complaint_tickets"),
              Child(_table(ComplaintAttachment), "ticket_id", "complaint_tickets")),
    blockers=((_table(ComplaintTicket), "repeat_of_id"),),
)

CASES = SubjectPlan(
    subject_type="RefundCase", table=_table(RefundCase), number="case_number",
    closed_statuses=("REFUNDED", "REJECTED", "CANCELLED"), closed_at="updated_at",
    children=(Child(_table(RefundCaseEvent), "case_id", "refund_cases"),
              Child(_table(RefundEvidence), "case_id", "refund_cases"),
              Child(_table(EvidenceFile), "case_id", "refund_cases"),
              Child(_table(Payout), "case_id", "refund_cases"),
              Child(_table(PayoutEvent), "payout_id", "payouts")),
    blockers=((_table(ComplaintTicket), "refund_case_id"),
              (_table(ComplaintTicket), "follow_up_case_id")),
)

# Tickets first: archiving a ticket can free the case it was about in the same run.
PLANS = (TICKETS, CASES)
