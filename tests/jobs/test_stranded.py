"""Approved cases are never stranded: the payout sweep creates the payout whose job was lost."""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import col

from qrefund.jobs import payouts as payout_jobs
from qrefund.jobs import runtime
from qrefund.jobs.payouts import create_payout, payout_sweep
from qrefund.jobs.registry import QUEUE_PAYOUTS, QUEUE_RELAY
from qrefund.jobs.worker import JobContextFilter
from qrefund.platform.clock import utcnow
from qrefund.platform.payouts import service as payouts
from qrefund.platform.payouts.models import PayoutStatus
from qrefund.platform.payouts.repository import stranded_statement
from qrefund.platform.refunds.models import RefundCase
from qrefund.platform.vocabulary import RefundCaseStatus
from tests.jobs.support import (
    JobHarness,
    approved_case,
    event_count,
    fresh_case,
    payouts_of,
)
from tests.support.raw import unchecked
from tests.support.world import World

EMAIL = "mei.lin@example.com"
LONG_AGO = timedelta(minutes=10)  # beyond the 120 s grace period


async def _approved_long_ago(jobs: JobHarness, case: RefundCase, ago: timedelta = LONG_AGO,
                             **values: object) -> None:
    async with jobs.db.unit_of_work(runtime.system_scope("test")) as uow:
        await unchecked(uow).execute(update(RefundCase).where(col(RefundCase.id) == case.id)
                                  .values(approved_at=utcnow() - ago, **values))


async def _stranded(jobs: JobHarness, world: World, amount: str, **kw: object) -> RefundCase:
    """An approved case whose create_payout job was lost (relayed, then the queue emptied)."""
    case = await approved_case(jobs.db, world, amount, **kw)
    await jobs.drain((QUEUE_RELAY,))
    jobs.clear_queues()
    await _approved_long_ago(jobs, case)
    return case


async def test_a_recent_approval_is_left_to_its_own_job(jobs: JobHarness, world: World) -> None:
    # Given an approval within the grace period whose job is still on its way
    case = await approved_case(jobs.db, world, "20.00")
    await jobs.drain((QUEUE_RELAY,))
    jobs.clear_queues()
    await _approved_long_ago(jobs, case, timedelta(seconds=30))

    # When the payout sweep runs, then it leaves the case alone
    assert await payout_sweep() == 0
    assert (await fresh_case(jobs.db, case)).status == RefundCaseStatus.APPROVED
    assert await payouts_of(jobs.db, case) == []


async def test_an_approval_whose_job_was_lost_is_rescued_and_paid(
    jobs: JobHarness, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.handler.addFilter(JobContextFilter())
    caplog.set_level(logging.INFO)
    # Given a case approved 10 minutes ago whose create_payout job was lost
    case = await _stranded(jobs, world, "21.00", contact_email=EMAIL)
    assert (await fresh_case(jobs.db, case)).status == RefundCaseStatus.APPROVED

    # When the periodic payout sweep runs on a worker (and the workers carry on)
    runtime.queue(QUEUE_PAYOUTS).enqueue("qrefund.jobs.payouts.payout_sweep")
    await jobs.drain()

    # Then the case got its payout, by the sweep, and was paid once
    assert (await fresh_case(jobs.db, case)).status == RefundCaseStatus.REFUNDED
    [payout] = await payouts_of(jobs.db, case)
    assert payout.status == PayoutStatus.SUCCEEDED and payout.created_by == "payout-sweep"
    assert len(jobs.sandbox().ledger()) == 1

    # And the rescue is logged as a warning naming the tenant and the case, nothing personal
    [rescue] = [r for r in caplog.records if r.name == "qrefund.jobs.payouts"
                and r.levelno == logging.WARNING]
    assert str(case.id) in rescue.getMessage() and str(case.tenant_id) in rescue.getMessage()
    assert getattr(rescue, "case_id") == str(case.id)  # noqa: B009
    assert getattr(rescue, "tenant_id") == str(case.tenant_id)  # noqa: B009
    assert all(EMAIL not in r.getMessage() for r in caplog.records)


async def test_the_sweep_never_adds_a_payout_to_a_case_with_a_live_one(
    jobs: JobHarness, world: World
) -> None:
    # Given a case whose payout was created (PENDING) and whose payout job was lost
    case = await approved_case(jobs.db, world, "22.00")
    assert await create_payout(str(case.tenant_id), str(case.id)) is not None
    jobs.clear_queues()
    await _approved_long_ago(jobs, case)
    assert await payout_sweep() == 0
    # ... even if the case read APPROVED beside its live payout
    await _approved_long_ago(jobs, case, status=RefundCaseStatus.APPROVED.value)
    async with jobs.db.unit_of_work(runtime.system_scope("test"), readonly=True) as uow:
        assert await payouts.stranded_approvals(uow, utcnow(), 10) == []

    # When the sweep runs, then the case keeps its one payout
    assert await payout_sweep() == 0
    [payout] = await payouts_of(jobs.db, case)
    assert payout.status == PayoutStatus.PENDING
    assert await event_count(jobs.db, "payout.created") == 1


async def test_two_sweeps_at_once_create_one_payout_per_case(
    jobs: JobHarness, world: World
) -> None:
    # Given six stranded approvals
    cases = [await _stranded(jobs, world, f"{23 + i}.00") for i in range(6)]

    # When two sweeps run at the same moment, each on its own loop and connections
    results = await asyncio.gather(*(asyncio.to_thread(asyncio.run, payout_sweep())
                                     for _ in range(2)))

    # Then every case got exactly one payout
    assert sum(results) == len(cases)
    for case in cases:
        assert len(await payouts_of(jobs.db, case)) == 1
        assert (await fresh_case(jobs.db, case)).status == RefundCaseStatus.PROCESSING
    assert await event_count(jobs.db, "payout.created") == len(cases)


async def test_the_sweep_works_in_bounded_batches(
    jobs: JobHarness, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given five stranded approvals and a sweep that reads 2 per page, 2 pages per run
    monkeypatch.setattr(payout_jobs, "STRANDED_BATCH", 2)
    monkeypatch.setattr(payout_jobs, "STRANDED_PAGES", 2)
    cases = [await _stranded(jobs, world, f"{31 + i}.00") for i in range(5)]

    # When the sweep runs twice, then the first run rescues four, the next the last one
    assert await payout_sweep() == 4
    assert await payout_sweep() == 1
    assert await payout_sweep() == 0
    for case in cases:
        assert len(await payouts_of(jobs.db, case)) == 1


def _literal(value: object) -> str:
    """A test-made value as SQL (ints, uuids, times, plain words: nothing to escape)."""
    if isinstance(value, int):
        return str(value)
    return f"'{value.isoformat() if hasattr(value, 'isoformat') else value}'"


@pytest.mark.postgres_only
async def test_the_stranded_query_reads_the_partial_index(jobs: JobHarness) -> None:
    # Given the sweep's query for its second page (the keyset condition included),
    # prepared the way a pooled connection runs it after a few executions
    page_key = (utcnow() - LONG_AGO, uuid.uuid4(), uuid.uuid4())
    stmt = stranded_statement(runtime.system_scope("test"), utcnow(), 100, after=page_key)
    async with jobs.db.unit_of_work(runtime.system_scope("test"), readonly=True) as uow:
        conn = await uow._session.connection()
        compiled = stmt.compile(dialect=conn.dialect,
                                compile_kwargs={"render_postcompile": True})
        names = list(compiled.params)
        sql = re.sub(r"%\((\w+)\)s", lambda m: f"${names.index(m.group(1)) + 1}", str(compiled))
        await conn.exec_driver_sql(f"PREPARE stranded AS {sql}")

        # When PostgreSQL plans it generically (parameters unknown) and without table
        # scans (so the plan does not depend on the tiny test tables)
        await conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
        await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        values = ", ".join(_literal(compiled.params[n]) for n in names)
        rows = await conn.exec_driver_sql(f"EXPLAIN EXECUTE stranded({values})")
        plan = "\n".join(r[0] for r in rows.all())
        await conn.exec_driver_sql("DEALLOCATE stranded")

    # Then it reads the partial index: its predicate is in the query, not a parameter
    assert "ix_refund_cases_awaiting_payout" in plan, plan
