"""Building blocks for the complaint job tests: the job runtime on the test database and
Redis with real RQ workers, sweeps at chosen instants, and reads of what they left."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from rq.job import Job
from sqlalchemy import select
from sqlmodel import col

from qrefund.jobs import runtime
from qrefund.jobs.deadlines import deadline_sweep
from qrefund.platform.complaints.models import ComplaintEvent, ComplaintTicket
from qrefund.platform.db import Database
from qrefund.platform.deadlines.models import DeadlineTimer
from qrefund.platform.outbox.models import DomainEvent
from tests.jobs.support import BACKGROUND, JobHarness
from tests.support.raw import unchecked

RESULT_KEYS = ("due", "warned", "breached", "escalated", "resynced", "failed")


async def sweep(jobs: JobHarness, at: datetime) -> dict[str, int]:
    """One deadline sweep at ``at``: its batch jobs run on real workers; their totals."""
    dispatched = await deadline_sweep(at.isoformat())
    await jobs.drain(BACKGROUND)
    totals = dict.fromkeys(RESULT_KEYS, 0)
    for job_id in dispatched["jobs"]:
        for key, value in Job.fetch(job_id, connection=jobs.redis).return_value().items():
            totals[key] += value
    return totals


async def _read(db: Database, stmt: Any) -> list[Any]:
    async with db.unit_of_work(runtime.system_scope("test"), readonly=True) as uow:
        found = list((await unchecked(uow).execute(stmt)).scalars())
        for row in found:
            uow._session.expunge(row)
    return found


async def timers(db: Database, ticket_id: uuid.UUID) -> dict[str, DeadlineTimer]:
    rows = await _read(db, select(DeadlineTimer).where(
        col(DeadlineTimer.subject_id) == ticket_id))
    return {t.name: t for t in rows}


async def ticket(db: Database, ticket_id: uuid.UUID) -> ComplaintTicket:
    rows = await _read(db, select(ComplaintTicket).where(col(ComplaintTicket.id) == ticket_id))
    assert len(rows) == 1
    found: ComplaintTicket = rows[0]
    return found


async def tickets_of_case(db: Database, case_id: uuid.UUID) -> list[ComplaintTicket]:
    return await _read(db, select(ComplaintTicket).where(
        col(ComplaintTicket.refund_case_id) == case_id))


async def timeline(db: Database, ticket_id: uuid.UUID) -> list[ComplaintEvent]:
    return await _read(db, select(ComplaintEvent).where(
        col(ComplaintEvent.ticket_id) == ticket_id).order_by(col(ComplaintEvent.seq)))


async def outbox(db: Database, aggregate_id: uuid.UUID) -> list[DomainEvent]:
    return await _read(db, select(DomainEvent).where(
        col(DomainEvent.aggregate_id) == aggregate_id).order_by(col(DomainEvent.seq)))
