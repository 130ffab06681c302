"""Units drawing from one tenant's counter queue in this process, in order, not on
PostgreSQL's row lock (see :mod:`qrefund.platform.counter_turns`): real units on real
connections, the queue read off ``pg_stat_activity``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from psycopg.errors import DeadlockDetected
from sqlalchemy import text

from qrefund.platform import counter_turns
from qrefund.platform.db import Database
from qrefund.platform.outbox.service import next_sequence
from qrefund.platform.refunds import intake
from qrefund.platform.scope import TenantScope
from qrefund.platform.vocabulary import RefundReason, RequestChannel
from qrefund.tenants.auth import authenticate
from tests.refunds.helpers import record_txn
from tests.support.world import World

pytestmark = pytest.mark.postgres_only

COUNTER = "turns_test"


async def _draw(db: Database, scope: TenantScope, drawn: list[int], tenant: Any,
                hold: asyncio.Event | None = None, fail: bool = False) -> None:
    async with db.unit_of_work(scope) as uow:
        drawn.append(await next_sequence(uow, tenant, COUNTER))
        if hold is not None:
            await hold.wait()
        if fail:
            raise RuntimeError("the unit fails after its draw")


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("never happened")


def _waiting_on_locks(owner_engine: Any) -> int:
    """Backends of this database waiting for a heavyweight lock (a row's, here)."""
    with owner_engine.connect() as admin:
        return int(admin.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'")).scalar_one())


async def test_one_unit_a_process_waits_on_the_row_the_rest_here_in_order(
        db: Database, world: World, owner_engine: Any) -> None:
    """While a unit holds the counter's row, the next one's statement waits for it in
    PostgreSQL (holding the turn) and the rest wait here: one waiter on the row lock."""
    tenant = world.merchant_a
    scope = await authenticate(db, world.key("a"))
    release, drawn = asyncio.Event(), []
    first = asyncio.create_task(_draw(db, scope, drawn, tenant, hold=release))
    later: list[asyncio.Task[None]] = []
    try:
        await _until(lambda: len(drawn) == 1)
        for n in range(3):  # each queued before the next arrives
            later.append(asyncio.create_task(_draw(db, scope, drawn, tenant)))
            await _until(lambda n=n: counter_turns.waiting(tenant, COUNTER) == n + 1)
        await _until(lambda: _waiting_on_locks(owner_engine) == 1)
        await asyncio.sleep(0.05)  # time to reach PostgreSQL, had the others gone on
        assert _waiting_on_locks(owner_engine) == 1
        assert len(drawn) == 1
    finally:  # the first unit ends whatever happened (a lock left held hangs the teardown)
        release.set()
        await asyncio.gather(first, *later, return_exceptions=True)
    assert drawn == [drawn[0] + i for i in range(4)]  # in the order they came
    assert counter_turns.waiting(tenant, COUNTER) == 0


async def test_a_waiter_cancelled_leaves_the_queue_and_a_failed_draw_is_drawn_again(
        db: Database, world: World, owner_engine: Any) -> None:
    tenant = world.merchant_a
    scope = await authenticate(db, world.key("a"))
    release, drawn = asyncio.Event(), []
    failing = asyncio.create_task(_draw(db, scope, drawn, tenant, hold=release, fail=True))
    on_the_row = cancelled = None
    try:
        await _until(lambda: len(drawn) == 1)
        on_the_row = asyncio.create_task(_draw(db, scope, drawn, tenant))
        await _until(lambda: _waiting_on_locks(owner_engine) == 1)
        cancelled = asyncio.create_task(_draw(db, scope, drawn, tenant))
        await _until(lambda: counter_turns.waiting(tenant, COUNTER) == 2)
        cancelled.cancel()
        await asyncio.gather(cancelled, return_exceptions=True)
        assert counter_turns.waiting(tenant, COUNTER) == 1
    finally:
        release.set()
        with pytest.raises(RuntimeError):
            await failing
        if on_the_row is not None:
            await on_the_row
    assert drawn == [drawn[0], drawn[0]]  # the failed unit's number again: gapless
    assert counter_turns.waiting(tenant, COUNTER) == 0


async def test_a_unit_holding_the_row_draws_again_without_queueing(
        db: Database, world: World, owner_engine: Any) -> None:
    """A submit draws its case number and its event's sequence number by their INSERTs
    (``insert_with_counter``); drawing the event counter again while another unit waits
    on that row (holding the turn) must not queue behind it."""
    txn = await record_txn(db, world)
    tenant = txn.tenant_id
    scope = await authenticate(db, world.key("a", "INTEGRATION"))
    async with db.unit_of_work(scope) as uow:
        case = await intake.submit(uow, intake.SubmitRefund(
            tenant_id=tenant, transaction_id=txn.id, amount=Decimal("5.00"),
            reason=RefundReason.QUALITY_ISSUE, channel=RequestChannel.API))
        assert counter_turns.waiting(tenant, "refund_case") == 0  # given back once drawn
        other = asyncio.create_task(_draw_events(db, scope, tenant))
        await _until(lambda: _waiting_on_locks(owner_engine) == 1)
        assert counter_turns.waiting(tenant, "events") == 1  # the other unit's turn
        async with asyncio.timeout(counter_turns.PATIENCE / 2):
            await next_sequence(uow, tenant, "events")
    await other
    assert case.case_number.endswith("-000001")
    assert counter_turns.waiting(tenant, "events") == 0


async def _draw_events(db: Database, scope: TenantScope, tenant: Any) -> None:
    async with db.unit_of_work(scope) as uow:
        await next_sequence(uow, tenant, "events")


async def test_a_wait_for_a_turn_inside_a_deadlock_gives_way_to_postgresql_detector(
        db: Database, world: World, owner_engine: Any) -> None:
    """``holder`` has drawn ``x`` and wants ``y``; ``crosser`` has drawn ``y`` and wants
    ``x``, whose turn ``queued`` holds while it waits on ``x``'s row. PostgreSQL sees
    holder waiting for crosser and queued for holder, but not crosser waiting for queued
    (a turn): no cycle it could find. After PATIENCE crosser queues on the row itself,
    PostgreSQL finds the deadlock and ends holder or crosser; the others commit."""
    scope = await authenticate(db, world.key("a"))
    tenant = world.merchant_a
    go, drew = asyncio.Event(), {"holder": asyncio.Event(), "crosser": asyncio.Event()}

    async def unit(name: str, first: str, then: str | None) -> str:
        async with db.unit_of_work(scope) as uow:
            await next_sequence(uow, tenant, first)
            if then is not None:
                drew[name].set()
                await go.wait()
                await next_sequence(uow, tenant, then)
        return "ok"

    holder = asyncio.create_task(unit("holder", "turns_x", "turns_y"))
    units = [holder]
    try:
        await drew["holder"].wait()
        units.append(asyncio.create_task(unit("crosser", "turns_y", "turns_x")))
        await drew["crosser"].wait()
        units.append(asyncio.create_task(unit("queued", "turns_x", None)))
        await _until(lambda: _waiting_on_locks(owner_engine) == 1)
        go.set()
        await _until(lambda: counter_turns.waiting(tenant, "turns_x") == 2)
        async with asyncio.timeout(30):  # a hang fails the test instead of the suite
            outcomes = await asyncio.gather(*units, return_exceptions=True)
    finally:
        go.set()
        for task in units:
            task.cancel()
    assert outcomes[2] == "ok", outcomes
    failed = [o for o in outcomes[:2] if o != "ok"]
    assert len(failed) == 1 and isinstance(failed[0].orig, DeadlockDetected), outcomes
    assert counter_turns.waiting(tenant, "turns_x") == counter_turns.waiting(tenant, "turns_y") == 0
