"""The sections of a daily digest: one provider per domain, listed in one table.

A provider gets the unit, the merchants the digest covers and its :class:`Window`,
and returns a :class:`Section` (``count`` 0: nothing to say). A domain contributes a
section by adding its provider to :data:`SECTIONS`; the digest is quiet when every
section is empty.
Rows carry ids, numbers and deadlines, never a consumer's data.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from qrefund.platform.complaints import digest as complaints
from qrefund.platform.db import UnitOfWork
from qrefund.platform.refunds import digest as refunds
from qrefund.platform.risk import service as risk

ROWS_PER_SECTION = 10
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Window:
    """When the digest is made (``now``) and the tenant's local day it is for."""

    now: datetime
    day: str


@dataclass(frozen=True)
class Section:
    key: str  # stable, for integrators: nearDeadline, breachedLastDay, ...
    title: str  # for the e-mail
    count: int
    rows: list[dict[str, Any]] = field(default_factory=list)

    def as_payload(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "count": self.count, "rows": self.rows}


Provider = Callable[[UnitOfWork, Sequence[uuid.UUID], Window], Awaitable[Section]]


async def near_deadline(uow: UnitOfWork, merchants: Sequence[uuid.UUID], w: Window) -> Section:
    count, rows = await refunds.cases_due(uow, merchants, w.now, w.now + DAY,
                                          limit=ROWS_PER_SECTION)
    return Section("nearDeadline", "Refund cases due within 24 hours / 24小时内到期的退款",
                   count, rows)


async def breached_last_day(uow: UnitOfWork, merchants: Sequence[uuid.UUID], w: Window
                            ) -> Section:
    count, rows = await refunds.cases_due(uow, merchants, w.now - DAY, w.now,
                                          limit=ROWS_PER_SECTION)
    return Section("breachedLastDay",
                   "Refund deadlines missed in the last 24 hours / 过去24小时超时的退款",
                   count, rows)


async def unanswered_complaints(uow: UnitOfWork, merchants: Sequence[uuid.UUID], w: Window
                                ) -> Section:
    count, rows = await complaints.unanswered(uow, merchants, limit=ROWS_PER_SECTION)
    return Section("unansweredComplaints", "Complaints not yet answered / 尚未答复的投诉",
                   count, rows)


async def open_risk_flags(uow: UnitOfWork, merchants: Sequence[uuid.UUID], w: Window
                          ) -> Section:
    """Anomaly flags still waiting for a review, per merchant, rule and severity."""
    groups = await risk.open_flags_summary(uow, merchants)
    rows = [{"merchantId": str(g.merchant_id), "rule": g.rule, "severity": g.severity,
             "count": g.count, "oldestAt": g.oldest_at.isoformat()}
            for g in groups[:ROWS_PER_SECTION]]
    return Section("openRiskFlags", "Anomaly flags awaiting review / 待处理的异常交易提示",
                   sum(g.count for g in groups), rows)


SECTIONS: list[Provider] = [near_deadline, breached_last_day, unanswered_complaints,
                            open_risk_flags]
