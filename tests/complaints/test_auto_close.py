"""The auto-close job: RESOLVED tickets nobody wrote on for the policy's auto-close days
are CLOSED by the system, once, whatever runs twice or at once; a consumer's message
postpones it, a reopening cancels it, and the reopen window still holds."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from rq import Queue

from qrefund.jobs.complaints import complaint_auto_close
from qrefund.jobs.registry import PERIODIC, QUEUE_MAINTENANCE, load_handlers
from qrefund.platform.complaints import service
from qrefund.platform.complaints.models import ComplaintTicket
from tests.complaints.api import done, mutate, opened, ticket_key
from tests.complaints.helpers import consumer, counts, rows
from tests.complaints.jobs import outbox, ticket, timeline
from tests.refunds.api import publish
from tests.refunds.helpers import record_txn

SECOND = timedelta(seconds=1)
SUPPORT = ("a", "SUPPORT")


def sh(text: str) -> datetime:
    return datetime.fromisoformat(f"{text}+08:00")


async def _resolved(client, db, world, clock, at="2026-11-02T10:00:00", **contact):
    txn = await record_txn(db, world)
    clock.at(sh(at))
    opened_ticket = await opened(client, world.key(*SUPPORT), txn=txn, **contact)
    resolved = await done(client, "ResolveComplaint", world.key(*SUPPORT),
                          id=opened_ticket["id"], resolution="EXPLAINED", note="Explained.")
    return txn, resolved, ticket_key(resolved)


async def test_closed_by_the_system_after_the_auto_close_days_once(
        client, db, world, clock, workers):
    await publish(client, world.key("a"), complaintAutoCloseDays=3)
    _txn, resolved, key = await _resolved(client, db, world, clock)
    due = datetime.fromisoformat(resolved["autoCloseAt"])
    assert due == sh("2026-11-05T10:00:00")  # the policy's 3 days

    assert (await complaint_auto_close((due - SECOND).isoformat()))["closed"] == 0
    assert (await ticket(workers.db, key[1])).status == "RESOLVED"
    assert await complaint_auto_close((due + SECOND).isoformat()) == {
        "due": 1, "closed": 1, "batches": 1}
    closed = await ticket(workers.db, key[1])
    assert (closed.status, closed.auto_close_at) == ("CLOSED", None)
    assert closed.closed_at == due + SECOND
    entry = (await timeline(workers.db, key[1]))[-1]
    assert (entry.type, entry.from_status, entry.to_status, entry.actor) == (
        "closed", "RESOLVED", "CLOSED", "system")
    event = (await outbox(workers.db, key[1]))[-1]
    assert event.type == "complaint.closed" and event.payload["automatic"] is True
    assert event.payload["actor"] == "system"
    # Running again (later) closes nothing more and writes nothing.
    before = await counts(db, world)
    assert (await complaint_auto_close((due + timedelta(days=30)).isoformat()))["due"] == 0
    assert await counts(db, world) == before
    # A closed ticket is not reopened, whoever asks.
    payload = await mutate(client, "ReopenComplaint", world.key(*SUPPORT), id=resolved["id"],
                           reason="too late")
    assert payload["userErrors"][0]["code"] == "INVALID_STATE"


async def test_a_consumer_message_postpones_it_and_a_reopening_cancels_it(
        client, db, world, clock, workers):
    txn, resolved, key = await _resolved(client, db, world, clock)
    first_due = datetime.fromisoformat(resolved["autoCloseAt"])
    clock.at(first_due - timedelta(days=1))
    async with db.unit_of_work(consumer(txn)) as uow:
        await service.consumer_reply(uow, *key, message="One more question")
    assert (await complaint_auto_close((first_due + SECOND).isoformat()))["closed"] == 0
    postponed = await ticket(workers.db, key[1])
    assert postponed.auto_close_at == first_due + timedelta(days=6)

    _txn2, other, other_key = await _resolved(client, db, world, clock,
                                              at="2026-11-04T10:00:00")
    clock.advance(timedelta(hours=2))
    await done(client, "ReopenComplaint", world.key(*SUPPORT), id=other["id"],
               reason="The consumer called back.")
    assert (await complaint_auto_close(sh("2026-12-31T00:00:00").isoformat()))["closed"] == 1
    assert (await ticket(workers.db, key[1])).status == "CLOSED"
    assert (await ticket(workers.db, other_key[1])).status == "IN_PROGRESS"


async def test_the_reopen_window_is_the_policys(client, db, world, clock):
    await publish(client, world.key("a"), complaintReopenWindowDays=2,
                  complaintAutoCloseDays=10)
    txn, resolved, key = await _resolved(client, db, world, clock)
    clock.at(sh("2026-11-04T10:00:01"))  # two days and a second after the resolution
    before = await counts(db, world)
    payload = await mutate(client, "ReopenComplaint", world.key(*SUPPORT), id=resolved["id"],
                           reason="Still unhappy")
    assert payload["userErrors"][0]["code"] == "REOPEN_WINDOW_CLOSED"
    assert await counts(db, world) == before
    clock.at(sh("2026-11-04T09:59:59"))
    async with db.unit_of_work(consumer(txn)) as uow:
        assert (await service.reopen(uow, *key, reason="Still unhappy")).status == "IN_PROGRESS"


async def test_many_due_in_batches_by_a_real_worker(client, db, world, clock, workers,
                                                    monkeypatch):
    import qrefund.jobs.complaints as jobs_module

    monkeypatch.setattr(jobs_module, "BATCH_SIZE", 2)
    keys = [(await _resolved(client, db, world, clock))[2] for _ in range(5)]
    load_handlers()
    assert any(p.func == "qrefund.jobs.complaints.complaint_auto_close" for p in PERIODIC)
    job = Queue(QUEUE_MAINTENANCE, connection=workers.redis).enqueue(
        "qrefund.jobs.complaints.complaint_auto_close", sh("2026-11-20T00:00:00").isoformat())
    await workers.drain((QUEUE_MAINTENANCE,))
    job.refresh()
    assert job.return_value() == {"due": 5, "closed": 5, "batches": 3}
    statuses = {t.status for t in await rows(db, world, ComplaintTicket,
                                              ComplaintTicket.id.in_([k[1] for k in keys]))}
    assert statuses == {"CLOSED"}


@pytest.mark.postgres_only
async def test_two_concurrent_runs_close_each_ticket_once(client, db, world, clock, workers):
    keys = [(await _resolved(client, db, world, clock))[2] for _ in range(6)]
    at = sh("2026-11-20T00:00:00").isoformat()
    first, second = await asyncio.gather(complaint_auto_close(at), complaint_auto_close(at))
    assert first["closed"] + second["closed"] == 6
    for key in keys:
        closings = [e for e in await outbox(workers.db, key[1]) if e.type == "complaint.closed"]
        assert len(closings) == 1
