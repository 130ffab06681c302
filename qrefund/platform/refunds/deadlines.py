"""Refund cases as a deadline subject: one timer, ``sla``.

The case's clock counts toward the review deadline while it is undecided, then
toward the completion deadline once approved (the timer's ``kind`` goes
``review`` -> ``completion``); it stops while the case awaits the consumer's
answer and when the case closes.

Escalation: a breach raises ``escalationLevel`` by one, writes
``refund_case.deadline_breached`` and reassigns the case to the merchant's
escalation contact (or its agency's); each later level (a re-escalation, or a
second deadline breached) writes ``refund_case.escalated``, and from level 2 on
``refund_case.agency_notified`` tells the merchant's agency (its webhook
endpoints and subscribers receive its merchants' events).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm.attributes import flag_modified

from qrefund.platform.db import UnitOfWork
from qrefund.platform.deadlines.models import DeadlineTimer
from qrefund.platform.deadlines.subject import (
    Escalation,
    Key,
    Record,
    Running,
    record_escalation,
    record_warning,
)
from qrefund.platform.refunds import service as refunds
from qrefund.platform.refunds.freeze import shift_frozen_cases
from qrefund.platform.refunds.lifecycle import UNDECIDED
from qrefund.platform.refunds.models import RefundCase

SLA = "sla"  # the name of a case's one timer

# Every case of a sweep batch updates the same columns, so the ORM sends the
# batch's case updates as one executemany instead of one statement per pattern.
_CASE_COLUMNS = ("escalation_level", "assignee", "event_count", "updated_at")


class RefundCaseSubject:
    type = "refund_case"
    event_family = "refund_case"
    own_events = frozenset({"refund_case.deadline_warning", "refund_case.deadline_breached",
                            "refund_case.escalated", "refund_case.agency_notified"})

    async def load(self, uow: UnitOfWork, keys: Sequence[Key], *, lock: bool
                   ) -> dict[Key, Any]:
        return await refunds.cases_by_keys(uow, keys, lock=lock)

    def running(self, case: RefundCase) -> dict[str, Running]:
        due = refunds.running_deadline(case)
        if due is None:
            return {}
        kind = "review" if case.state in UNDECIDED else "completion"
        return {SLA: Running(kind=kind, started_at=case.created_at, due_at=due)}

    def escalation_level(self, case: RefundCase) -> int:
        return case.escalation_level

    async def warn(self, uow: UnitOfWork, case: RefundCase, timer: DeadlineTimer) -> None:
        _same_columns(case)
        await record_warning(timer, _recorder(uow, case))

    async def escalate(self, uow: UnitOfWork, case: RefundCase, timer: DeadlineTimer,
                       escalation: Escalation) -> None:
        _same_columns(case)
        await record_escalation(case, timer, escalation, _recorder(uow, case))

    async def thaw(self, uow: UnitOfWork, tenant_id: uuid.UUID, frozen_from: datetime,
                   frozen_to: datetime) -> list[Key]:
        return await shift_frozen_cases(uow, tenant_id, frozen_from, frozen_to)


def _same_columns(case: RefundCase) -> None:
    for name in _CASE_COLUMNS:
        flag_modified(case, name)


def _recorder(uow: UnitOfWork, case: RefundCase) -> Record:
    async def record(type: str, note: str, data: dict[str, Any]) -> None:
        await refunds.record_case_event(uow, case, type=type, note=note, data=data)

    return record
