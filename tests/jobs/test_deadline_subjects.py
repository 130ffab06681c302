"""The deadline seam: a subject other than refund cases, defined here, with two named
timers running at once (a complaint ticket's first response and resolution).

Refusals first (what the subject table does not take), then which jobs the
subject's events start (its own deadline events: none; never refund logic), then
its two timers warned, breached and escalated independently by the real sweep, and
one of them stopped while the other runs on.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import col

from qrefund.jobs import deadlines as deadline_jobs
from qrefund.jobs import runtime
from qrefund.jobs.deadlines import claim_batches, process_batch
from qrefund.jobs.registry import (
    QUEUE_MAINTENANCE,
    QUEUE_NOTIFICATIONS,
    QUEUE_PAYOUTS,
    EventMessage,
    JobSpec,
    handlers_for,
)
from qrefund.platform.clock import utcnow
from qrefund.platform.db import UnitOfWork
from qrefund.platform.deadlines.models import DeadlineTimer
from qrefund.platform.deadlines.subject import Escalation, Key, Running
from qrefund.platform.deadlines.subjects import SUBJECTS, SubjectRegistry
from qrefund.platform.outbox.models import DomainEvent
from qrefund.platform.outbox.service import record_event
from qrefund.platform.refunds.deadlines import RefundCaseSubject
from qrefund.platform.refunds.models import RefundCase
from tests.jobs.support import BACKGROUND, JobHarness, unrelayed
from tests.support.raw import unchecked
from tests.support.world import World

# Writes made-up outbox events to exercise delivery itself.
pytestmark = pytest.mark.synthetic_events

SECOND = timedelta(seconds=1)
TICKET = "test_ticket"


@dataclass
class Ticket:
    tenant_id: uuid.UUID
    id: uuid.UUID
    opened_at: datetime
    first_response_due: datetime
    resolution_due: datetime
    responded: bool = False
    escalation_level: int = 0


class TicketSubject:
    """A complaint ticket as the deadline sweep sees it; tickets live in memory."""

    type = TICKET
    event_family = TICKET
    own_events = frozenset({f"{TICKET}.deadline_warning", f"{TICKET}.deadline_breached"})

    def __init__(self) -> None:
        self.tickets: dict[Key, Ticket] = {}
        self.synced = 0  # loads without the lock: the deadline job re-reading a ticket

    async def load(self, uow: UnitOfWork, keys: Any, *, lock: bool) -> dict[Key, Any]:
        self.synced += not lock
        return {k: self.tickets[k] for k in keys if k in self.tickets and uow.scope.allows(k[0])}

    def running(self, ticket: Ticket) -> dict[str, Running]:
        running = {"resolution": Running("resolution", ticket.opened_at, ticket.resolution_due)}
        if not ticket.responded:
            running["first_response"] = Running("first_response", ticket.opened_at,
                                                ticket.first_response_due)
        return running

    def escalation_level(self, ticket: Ticket) -> int:
        return ticket.escalation_level

    async def warn(self, uow: UnitOfWork, ticket: Ticket, timer: DeadlineTimer) -> None:
        await self._event(uow, ticket, "deadline_warning", timer=timer.name)

    async def escalate(self, uow: UnitOfWork, ticket: Ticket, timer: DeadlineTimer,
                       escalation: Escalation) -> None:
        ticket.escalation_level = escalation.level
        await self._event(uow, ticket, "deadline_breached", timer=timer.name,
                          level=escalation.level, first=escalation.first)

    @staticmethod
    async def _event(uow: UnitOfWork, ticket: Ticket, what: str, **payload: Any) -> None:
        await record_event(uow, tenant_id=ticket.tenant_id, type=f"{TICKET}.{what}",
                           aggregate_type=TICKET, aggregate_id=ticket.id, payload=payload)


@pytest.fixture
def tickets() -> Iterator[TicketSubject]:
    subject = TicketSubject()
    SUBJECTS.register(subject)
    deadline_jobs.watch(subject)
    yield subject
    SUBJECTS.unregister(TICKET)


def message(type: str, tenant_id: uuid.UUID | None = None) -> EventMessage:
    return EventMessage(tenant_id=tenant_id or uuid.uuid4(), event_id=uuid.uuid4(), seq=1,
                        type=type, aggregate_type=type.split(".")[0],
                        aggregate_id=uuid.uuid4(), payload={}, actor="test",
                        occurred_at=utcnow())


def specs(event: EventMessage) -> list[tuple[str, JobSpec]]:
    return [(name, spec) for name, handler in handlers_for(event.type)
            for spec in handler(event)]


def test_the_subject_table_refuses_clashes_and_stray_own_events() -> None:
    # Given a table holding refund cases
    table = SubjectRegistry(RefundCaseSubject())
    clashes = {
        "the same type": {"type": "refund_case", "event_family": "other"},
        "the same event family": {"type": "other", "event_family": "refund_case"},
        "own events of another family": {"own_events": frozenset({"refund_case.escalated"})},
        "a type that is no name": {"type": "Ticket:1"},
        "a type longer than its column": {"type": "t" * 25},
    }
    for why, changes in clashes.items():
        subject = TicketSubject()
        for name, value in changes.items():
            setattr(subject, name, value)
        # When a subject with a clash is registered, then it is refused, and not kept
        with pytest.raises(ValueError):
            table.register(subject)
        assert [s.type for s in table] == ["refund_case"], why
    # (while a proper one is taken)
    table.register(TicketSubject())
    assert [s.type for s in table] == ["refund_case", TICKET]


@pytest.mark.usefixtures("tickets")
def test_a_subjects_events_start_its_own_sync_and_never_refund_logic() -> None:
    # Given the ticket subject registered beside refund cases
    opened = message(f"{TICKET}.opened")
    # When one of its events is relayed, then the one job is a sync of the ticket
    ((name, spec),) = specs(opened)
    assert name == "qrefund.jobs.deadlines.on_test_ticket_event"
    assert (spec.queue, spec.func) == (QUEUE_MAINTENANCE, "qrefund.jobs.deadlines.sync_deadline")
    assert spec.args == (TICKET, str(opened.tenant_id), str(opened.aggregate_id))
    # Its own deadline events start nothing at all (no re-sync, no refund job)
    for own in TicketSubject.own_events:
        assert specs(message(own)) == []
    # Refund cases keep theirs: a case event syncs the case, a case's own deadline
    # events do not, and neither reaches the ticket
    (case_sync,) = [s for n, s in specs(message("refund_case.submitted"))
                    if n.startswith("qrefund.jobs.deadlines")]
    assert case_sync.args[0] == "refund_case"
    assert not [n for n, _ in specs(message("refund_case.deadline_warning"))
                if n.startswith("qrefund.jobs.deadlines")]


async def timers_of(jobs: JobHarness, ticket: Ticket) -> dict[str, DeadlineTimer]:
    async with jobs.db.unit_of_work(runtime.system_scope("test"), readonly=True) as uow:
        rows = list((await unchecked(uow).execute(select(DeadlineTimer).where(
            col(DeadlineTimer.subject_id) == ticket.id))).scalars())
        for row in rows:
            uow._session.expunge(row)
    return {t.name: t for t in rows}


async def ticket_events(jobs: JobHarness, ticket: Ticket) -> list[tuple[str, Any, Any]]:
    async with jobs.db.unit_of_work(runtime.system_scope("test"), readonly=True) as uow:
        rows = (await unchecked(uow).execute(select(DomainEvent).where(
            col(DomainEvent.aggregate_id) == ticket.id).order_by(col(DomainEvent.seq)))).scalars()
        return [(e.type.split(".")[1], e.payload.get("timer"), e.payload.get("level"))
                for e in rows]


async def emit(jobs: JobHarness, ticket: Ticket, what: str) -> None:
    """A ticket event, committed and relayed; its jobs run on real workers."""
    async with jobs.db.unit_of_work(runtime.job_scope(ticket.tenant_id, "test")) as uow:
        await record_event(uow, tenant_id=ticket.tenant_id, type=f"{TICKET}.{what}",
                           aggregate_type=TICKET, aggregate_id=ticket.id)
    await jobs.drain(BACKGROUND)


async def sweep(at: datetime) -> dict[str, int]:
    results = [await process_batch(keys, lease, now=at) for keys, lease in await claim_batches(at)]
    return {"due": sum(r.due for r in results), "warned": sum(r.warned for r in results),
            "breached": sum(r.breached for r in results),
            "escalated": sum(r.escalated for r in results)}


async def test_two_named_timers_warn_breach_and_stop_independently(
    jobs: JobHarness, world: World, tickets: TicketSubject
) -> None:
    # Given a ticket whose first response is due in an hour and resolution in five
    now = utcnow()
    ticket = Ticket(world.merchant_a, uuid.uuid4(), opened_at=now - timedelta(hours=1),
                    first_response_due=now + timedelta(hours=1),
                    resolution_due=now + timedelta(hours=5))
    tickets.tickets[(ticket.tenant_id, ticket.id)] = ticket
    # When it is opened: both timers run, each toward its own deadline
    await emit(jobs, ticket, "opened")
    timers = await timers_of(jobs, ticket)
    assert {n: (t.kind, t.due_at) for n, t in timers.items()} == {
        "first_response": ("first_response", ticket.first_response_due),
        "resolution": ("resolution", ticket.resolution_due)}
    first, resolution = timers["first_response"], timers["resolution"]
    assert first.warn_at < first.due_at < resolution.warn_at < resolution.due_at

    # Then the sweep warns and breaches each when its own time comes, and only it
    steps = [(first.warn_at, "warned"), (first.due_at, "breached"),
             (resolution.warn_at, "warned"), (resolution.due_at, "breached")]
    for at, outcome in steps:
        result = await sweep(at + SECOND)
        assert result["due"] == 1 and result[outcome] == 1, (at, result)
    assert await ticket_events(jobs, ticket) == [
        ("opened", None, None), ("deadline_warning", "first_response", None),
        ("deadline_breached", "first_response", 1), ("deadline_warning", "resolution", None),
        ("deadline_breached", "resolution", 2)]
    # Both re-escalate in one batch (the ticket read once), each a level
    reescalate = timedelta(hours=jobs.settings.deadline_reescalate_hours)
    assert (await sweep(resolution.due_at + reescalate + SECOND))["escalated"] == 2
    assert ticket.escalation_level == 4

    # The ticket's own events, relayed, sync nothing and start no refund job
    await jobs.drain(BACKGROUND)
    assert await unrelayed(jobs.db) == 0
    assert tickets.synced == 1
    assert not jobs.queued(QUEUE_PAYOUTS) and not jobs.queued(QUEUE_NOTIFICATIONS)
    async with jobs.db.unit_of_work(runtime.system_scope("test"), readonly=True) as uow:
        assert (await unchecked(uow).execute(select(RefundCase))).first() is None

    # When the first response is given: that timer stops, the resolution timer runs on
    # as it was (breached, escalated, a next step to come)
    before = await timers_of(jobs, ticket)
    ticket.responded = True
    await emit(jobs, ticket, "responded")
    after = await timers_of(jobs, ticket)
    assert tickets.synced == 2
    assert after["first_response"].next_check_at is None
    kept = ("kind", "due_at", "warned_at", "breached_at", "escalations")
    assert [getattr(after["resolution"], k) for k in kept] == [
        getattr(before["resolution"], k) for k in kept]
    assert after["resolution"].next_check_at is not None
