"""The transactional outbox and its relay: jobs once, pub/sub, Redis outages, concurrency."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import httpx
import pytest
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import update

from qrefund.graphql_schema import ids
from qrefund.jobs import registry, relay, runtime
from qrefund.jobs.registry import (
    QUEUE_NOTIFICATIONS,
    QUEUE_PAYOUTS,
    QUEUE_RELAY,
    EventMessage,
    decode_message,
    events_channel,
    handlers_for,
)
from qrefund.jobs.relay import relay_pending
from qrefund.platform.db import Database
from qrefund.platform.outbox.models import DomainEvent
from qrefund.platform.outbox.service import record_event
from qrefund.platform.refunds import service as refunds
from qrefund.platform.vocabulary import RefundCaseStatus
from tests.jobs.support import (
    JobHarness,
    approved_case,
    as_,
    fresh_case,
    record_txn,
    submitted_case,
    unrelayed,
)
from tests.support.graphql import ok
from tests.support.raw import unchecked
from tests.support.world import World

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1: connections are refused


def _job_funcs(jobs: JobHarness, queue: str) -> list[str]:
    return [j.func_name for j in jobs.queued(queue)]


async def _unrelay_all(db: Database) -> None:
    async with db.unit_of_work(runtime.system_scope("test")) as uow:
        await unchecked(uow).execute(update(DomainEvent).values(relayed_at=None))


async def test_a_commit_nudges_the_relay_with_its_events(jobs: JobHarness, world: World) -> None:
    jobs.clear_queues()
    case = await approved_case(jobs.db, world)
    nudges = [j for j in jobs.queued(QUEUE_RELAY)
              if j.func_name == "qrefund.jobs.relay.relay_events"]
    assert nudges, "no relay job after the commit"
    refs = [ref for job in nudges for ref in job.args[0]]
    assert all(ref.startswith(f"{case.tenant_id}:") for ref in refs)

    await jobs.drain((QUEUE_RELAY,))  # the nudged relay turns them into jobs
    assert "qrefund.jobs.payouts.create_payout" in _job_funcs(jobs, QUEUE_PAYOUTS)
    assert await unrelayed(jobs.db, case.id) == 0


async def test_a_rolled_back_unit_nudges_nothing(jobs: JobHarness, world: World) -> None:
    jobs.clear_queues()
    with pytest.raises(RuntimeError):
        async with jobs.db.unit_of_work(runtime.job_scope(world.merchant_a)) as uow:
            await record_event(uow, tenant_id=world.merchant_a, type="test.rolled_back",
                               aggregate_type="test", aggregate_id=uuid.uuid4())
            raise RuntimeError("the change failed")
    assert jobs.queued(QUEUE_RELAY) == []


async def test_relaying_the_same_events_again_enqueues_nothing_new(
    jobs: JobHarness, world: World
) -> None:
    await approved_case(jobs.db, world)
    jobs.clear_queues()
    pending = await unrelayed(jobs.db)
    first = await relay_pending()
    queued = {q: sorted(j.id for j in jobs.queued(q)) for q in registry.QUEUES}
    assert first == pending > 0 and queued[QUEUE_PAYOUTS]

    await _unrelay_all(jobs.db)  # as if the relay crashed after enqueueing, before its commit
    assert await relay_pending() == first
    assert {q: sorted(j.id for j in jobs.queued(q)) for q in registry.QUEUES} == queued


async def test_each_event_is_published_on_its_tenant_channel(
    jobs: JobHarness, world: World, redis_conn: Redis
) -> None:
    pubsub = redis_conn.pubsub()
    pubsub.subscribe(events_channel(world.merchant_a))
    pubsub.get_message(timeout=1)  # the subscription confirmation
    case = await approved_case(jobs.db, world)
    await relay_pending()

    seen: list[EventMessage] = []
    while (message := pubsub.get_message(timeout=1)) is not None:
        seen.append(decode_message(message["data"]))
    pubsub.close()
    approved = [m for m in seen if m.type == "refund_case.approved"]
    assert len(approved) == 1
    assert approved[0].aggregate_id == case.id and approved[0].tenant_id == world.merchant_a
    assert approved[0].payload["caseId"] == str(case.id)
    assert [m.seq for m in seen] == sorted(m.seq for m in seen)
    assert all(m.tenant_id == world.merchant_a for m in seen)


APPROVE = """mutation($input: ApproveRefundInput!) { approveRefund(input: $input) {
  refundCase { id status } userErrors { code } } }"""


async def test_nothing_is_lost_while_redis_is_down(
    client: httpx.AsyncClient, jobs: JobHarness, world: World
) -> None:
    case = await submitted_case(jobs.db, world, "12.00")
    async with jobs.db.unit_of_work(await as_(jobs.db, world, "a", "REFUND_AGENT")) as uow:
        await refunds.start_review(uow, case.tenant_id, case.id)
    await relay_pending()
    jobs.clear_queues()

    runtime.configure(redis=runtime.redis_from_url(DEAD_REDIS))  # Redis goes away
    case_gid = ids.encode("RefundCase", case.tenant_id, case.id)
    data = await ok(client, APPROVE, {"input": {"id": case_gid}},
                    key=world.key("a", "REFUND_AGENT"))
    assert data["approveRefund"]["refundCase"]["status"] == "APPROVED"  # the API is unaffected
    assert await unrelayed(jobs.db) == 1  # refund_case.approved
    with pytest.raises(RedisError):  # the catch-up relay cannot reach Redis: events stay
        await relay_pending()
    assert await unrelayed(jobs.db) == 1

    runtime.configure(redis=jobs.redis)  # Redis is back; the periodic relay catches up
    assert await relay_pending() == 1
    assert await unrelayed(jobs.db) == 0
    assert any(name.startswith("qrefund.jobs.notifications") for name, _ in
               handlers_for("refund_case.approved"))
    assert jobs.queued(QUEUE_NOTIFICATIONS), "the approval's notification was not enqueued"
    # Nudges pause for a few seconds after a failure; the periodic relay keeps things moving.
    for _ in range(5):
        await jobs.drain()
        if not await relay_pending():
            break
    assert (await fresh_case(jobs.db, case)).status == RefundCaseStatus.REFUNDED


@pytest.mark.postgres_only
async def test_concurrent_relays_share_the_events_without_overlap(
    jobs: JobHarness, world: World
) -> None:
    txn = await record_txn(jobs.db, world)
    for _ in range(12):
        await submitted_case(jobs.db, world, "1.00", txn=txn)
    await _unrelay_all(jobs.db)
    pending = await unrelayed(jobs.db)
    jobs.clear_queues()

    counts = await asyncio.gather(*(asyncio.to_thread(asyncio.run, relay_pending(limit=5))
                                    for _ in range(3)))
    assert sum(counts) == pending  # every event relayed by exactly one relay
    assert await unrelayed(jobs.db) == 0


@pytest.fixture
def broken_handler() -> Iterator[None]:
    def explode(event: EventMessage) -> list[registry.JobSpec]:
        raise ValueError("a bug in one handler")

    registry.load_handlers()
    registry._HANDLERS.insert(0, (("refund_case.*",), "tests.explode", explode))
    yield
    registry._HANDLERS[:] = [h for h in registry._HANDLERS if h[1] != "tests.explode"]


@pytest.mark.usefixtures("broken_handler")
async def test_a_broken_handler_does_not_hold_the_other_handlers_back(
    jobs: JobHarness, world: World
) -> None:
    await approved_case(jobs.db, world)
    jobs.clear_queues()
    pending = await unrelayed(jobs.db)
    assert await relay_pending() == pending > 0
    assert "qrefund.jobs.payouts.create_payout" in _job_funcs(jobs, QUEUE_PAYOUTS)
    assert await unrelayed(jobs.db) == 0


async def test_commits_that_land_during_an_enqueue_share_the_next_relay_job(
    jobs: JobHarness, world: World
) -> None:
    """One enqueue at a time: twenty commits' nudges at once make two relay jobs (the
    first commit's, then one for the nineteen that came while it was in flight), every
    event in one of them, each nudge returning once its events were handed over."""
    async with jobs.db.unit_of_work(runtime.job_scope(world.merchant_a)) as uow:
        events = [await record_event(uow, tenant_id=world.merchant_a,
                                     type="transaction_import.requested",
                                     aggregate_type="transaction_import",
                                     aggregate_id=uuid.uuid4(), payload={"format": "CSV"})
                  for _ in range(20)]
    jobs.clear_queues()  # the unit's own nudge

    await asyncio.gather(*(relay.nudge([event]) for event in events))
    nudges = [j for j in jobs.queued(QUEUE_RELAY)
              if j.func_name == "qrefund.jobs.relay.relay_events"]
    assert sorted(len(job.args[0]) for job in nudges) == [1, 19]
    refs = sorted(ref for job in nudges for ref in job.args[0])
    assert refs == sorted(f"{e.tenant_id}:{e.id}" for e in events)
