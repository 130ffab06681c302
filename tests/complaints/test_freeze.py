"""A complaint ticket of a merchant suspended with openCases FREEZE: not escalated while
frozen, its deadlines moved on by the frozen time at reactivation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from qrefund.jobs.deadlines import policy
from qrefund.platform.deadlines import freeze
from qrefund.tenants import lifecycle
from tests.complaints.api import opened, ticket_key
from tests.complaints.jobs import sweep, ticket, timeline, timers
from tests.jobs.freeze_support import backdate_suspension
from tests.jobs.support import BACKGROUND
from tests.refunds.helpers import record_txn, scope_of

SECOND = timedelta(seconds=1)
FROZEN_FOR = timedelta(hours=5)


async def test_a_frozen_ticket_waits_and_its_deadlines_move_on(
        client, db, world, workers, owner_engine: Any):
    txn = await record_txn(db, world, "a")
    key = ticket_key(await opened(client, world.key("a", "SUPPORT"), txn=txn))
    await workers.drain(BACKGROUND)
    before = await ticket(workers.db, key[1])
    armed = await timers(workers.db, key[1])
    agency = await scope_of(db, world, "agency", "ADMIN")
    async with db.unit_of_work(agency) as uow:
        await lifecycle.change_status(uow, world.merchant_a, "suspended", "audit",
                                      open_cases="FREEZE")

    late = max(t.due_at for t in armed.values()) + SECOND
    assert (await sweep(workers, late))["breached"] == 0
    assert (await ticket(workers.db, key[1])).escalation_level == 0

    backdate_suspension(owner_engine, world.merchant_a, FROZEN_FOR)
    async with db.unit_of_work(await scope_of(db, world, "agency", "ADMIN")) as uow:
        _, moved = await freeze.reactivate(uow, world.merchant_a, None, policy(workers.settings))
    assert moved == 1
    after = await ticket(workers.db, key[1])
    for name in ("first_response_due_at", "resolution_due_at"):
        shift = getattr(after, name) - getattr(before, name)
        assert FROZEN_FOR <= shift < FROZEN_FOR + timedelta(seconds=30), name
    assert "deadlines_shifted" in [e.type for e in await timeline(workers.db, key[1])]
    restarted = await timers(workers.db, key[1])
    assert restarted["resolution"].due_at == after.resolution_due_at
    assert all(t.next_check_at is not None for t in restarted.values())
