"""refundStats.complaints against a hand-computed fixture."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from qrefund.platform.complaints.models import ComplaintTicket
from qrefund.platform.db import Database
from tests.analytics.helpers import at, case_row, operator, stats, store
from tests.support.world import World

H = timedelta(hours=1)


def _ticket(tenant: uuid.UUID, txn: uuid.UUID, opened: datetime, n: int,
            **fields: Any) -> ComplaintTicket:
    values: dict[str, Any] = dict(
        tenant_id=tenant, ticket_number=f"C-{n}", transaction_id=txn, status="OPEN",
        priority="NORMAL", category="REFUND_DELAY", channel="API", description="late",
        first_response_due_at=opened + 24 * H, resolution_due_at=opened + 72 * H,
        sla_started_at=opened, opened_by="test", created_at=opened, updated_at=opened)
    return ComplaintTicket(**{**values, **fields})


async def test_complaint_figures(db: Database, world: World) -> None:
    # Given four tickets opened on Merchant A's 1 March and one on 2 March
    a = world.merchant_a
    t0 = at("2026-03-01T10:00:00+08:00")
    txn, _case = case_row(a, t0)
    await store(db, world, (txn, _case))
    first = _ticket(a, txn.id, t0, 1, status="CLOSED", first_responded_at=t0 + H,
                    resolved_at=t0 + 10 * H, rating=5)
    tickets = [
        first,
        _ticket(a, txn.id, t0, 2, status="CLOSED", first_responded_at=t0 + 30 * H,
                resolved_at=t0 + 80 * H, rating=2, repeat_of_id=first.id),
        _ticket(a, txn.id, t0, 3, status="IN_PROGRESS", first_responded_at=t0 + 2 * H),
        _ticket(a, txn.id, t0, 4),
        _ticket(a, txn.id, t0 + 24 * H, 5, rating=1),
    ]
    async with db.unit_of_work(await operator(db, world)) as uow:
        for ticket in tickets:
            uow._add(ticket)
            await uow.flush()
    # When the stats of 1 March are read
    result = await stats(db, await operator(db, world), "2026-03-01T00:00:00+08:00",
                         "2026-03-02T00:00:00+08:00", merchants=[a])
    # Then the complaint figures are the hand-computed ones
    c = result.complaints
    assert (c.opened, c.first_responded, c.first_response_on_time) == (4, 3, 2)
    assert (c.resolved, c.resolved_on_time, c.repeats) == (2, 1, 1)
    assert c.first_response_compliance == 2 / 3
    assert c.resolution_compliance == 0.5
    assert c.satisfaction_average == 3.5
    assert c.ratings == {2: 1, 5: 1}
    assert c.repeat_rate == 0.25
