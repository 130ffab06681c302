"""What a daily digest says about refund cases: deadlines near, and deadlines just missed.

Plain rows for :mod:`qrefund.platform.digests.sections` (no personal data: case numbers,
merchants, deadlines)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from qrefund.platform.db import UnitOfWork
from qrefund.platform.refunds.models import RefundCase
from qrefund.platform.refunds.repository import RefundCaseRepository


def _row(case: RefundCase) -> dict[str, Any]:
    return {"caseId": str(case.id), "caseNumber": case.case_number,
            "merchantId": str(case.tenant_id), "status": case.status,
            "dueAt": case.next_due_at.isoformat() if case.next_due_at else None,
            "escalationLevel": case.escalation_level}


async def cases_due(uow: UnitOfWork, tenant_ids: Sequence[uuid.UUID], start: datetime,
                    end: datetime, *, limit: int) -> tuple[int, list[dict[str, Any]]]:
    """Open cases whose running deadline falls in [start, end): count and first rows."""
    total, cases = await RefundCaseRepository(uow).due_within(tenant_ids, start, end,
                                                              limit=limit)
    return total, [_row(c) for c in cases]
