"""Running the job system: scheduler, workers, job logs, the embedded runtime, contacts."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from qrefund.jobs import runtime
from qrefund.jobs.embedded import EmbeddedRuntime
from qrefund.jobs.registry import PERIODIC, QUEUES
from qrefund.jobs.relay import relay_pending
from qrefund.jobs.scheduler import build_scheduler, interval_of
from qrefund.jobs.worker import JobContextFilter
from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from qrefund.platform.payouts.models import PayoutStatus
from qrefund.platform.vocabulary import RefundCaseStatus
from tests.jobs.support import JobHarness, approved_case, cli, fresh_case, payouts_of
from tests.support.graphql import ok
from tests.support.world import World

GRID = datetime(2030, 1, 1, tzinfo=UTC)  # a multiple of every interval


def _periodic_jobs(jobs: JobHarness) -> list[str]:
    return sorted(str(j.meta.get("periodic")) for q in QUEUES for j in jobs.queued(q))


async def test_two_schedulers_enqueue_each_periodic_run_once(jobs: JobHarness) -> None:
    jobs.clear_queues()
    first, second = (build_scheduler(jobs.redis, jobs.settings) for _ in range(2))
    names = sorted(p.name for p in PERIODIC)
    assert {"outbox-relay", "deadline-sweep", "payout-sweep"} <= set(names)

    at = GRID + timedelta(seconds=3)
    assert len(first.enqueue_jobs(at)) == len(names)
    assert second.enqueue_jobs(at + timedelta(milliseconds=5)) == []  # same slots: claimed
    assert _periodic_jobs(jobs) == names

    # Both aim at the same grid points; the next slot of each job is again enqueued once
    # (of the jobs due again a minute later: the daily reconciliation is not).
    minutely = [p.name for p in PERIODIC if 60 % interval_of(p, jobs.settings) == 0]
    later = GRID + timedelta(seconds=60)
    assert first.enqueue_jobs(at + timedelta(seconds=1)) == []  # not due yet
    enqueued = len(second.enqueue_jobs(later)) + len(first.enqueue_jobs(later))
    assert enqueued == len(minutely)
    assert len(_periodic_jobs(jobs)) == len(names) + len(minutely)


async def test_job_logs_carry_the_tenant_and_the_case(
    jobs: JobHarness, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.handler.addFilter(JobContextFilter())
    caplog.set_level(logging.INFO, logger="qrefund.jobs")
    case = await approved_case(jobs.db, world, "13.00")
    await jobs.drain()
    payout_logs = [r for r in caplog.records if r.name == "qrefund.jobs.payouts"]
    assert payout_logs
    for record in payout_logs:
        assert getattr(record, "tenant_id") == str(case.tenant_id)  # noqa: B009
        assert getattr(record, "case_id") == str(case.id)  # noqa: B009
        assert getattr(record, "job_id") != "-"  # noqa: B009


async def test_the_worker_command_runs_the_whole_chain(jobs: JobHarness, world: World) -> None:
    case = await approved_case(jobs.db, world, "14.00")
    await relay_pending()
    done = await asyncio.to_thread(cli, jobs.settings, "worker", "--burst")
    assert done.returncode == 0, done.stderr
    assert (await fresh_case(jobs.db, case)).status == RefundCaseStatus.REFUNDED
    # the job's lines name the tenant and the case (structured log context)
    assert f"case_id={case.id}" in done.stderr and f"tenant_id={case.tenant_id}" in done.stderr


async def test_job_commands_refuse_without_redis(jobs: JobHarness) -> None:
    for args in (("worker", "--burst"), ("scheduler",), ("jobs", "failed")):
        done = await asyncio.to_thread(cli, jobs.settings, *args, QREFUND_REDIS_URL="")
        assert done.returncode == 2 and "QREFUND_REDIS_URL" in done.stderr
    bad = await asyncio.to_thread(cli, jobs.settings, "worker", "--queue", "nope", "--burst")
    assert bad.returncode == 2 and "unknown queue" in bad.stderr
    none = await asyncio.to_thread(cli, jobs.settings, "jobs", "requeue")
    assert none.returncode == 2
    missing = await asyncio.to_thread(cli, jobs.settings, "jobs", "requeue", "no-such-job")
    assert missing.returncode == 1 and "no-such-job" in missing.stderr


async def test_the_embedded_runtime_pays_out_without_a_redis_server(
    settings: Settings, db: Database, world: World
) -> None:
    embedded_settings = settings.model_copy(update={"redis_url": None,
                                                    "payout_poll_seconds": (0,)})
    runtime.reset()
    embedded = EmbeddedRuntime(embedded_settings)
    embedded.start()
    try:
        assert runtime.is_embedded()
        case = await approved_case(db, world, "10.13")  # processing, then polled to success
        for _ in range(300):  # a condition wait, not a timing assertion
            if (await fresh_case(db, case)).status == RefundCaseStatus.REFUNDED:
                break
            await asyncio.sleep(0.1)
        assert (await fresh_case(db, case)).status == RefundCaseStatus.REFUNDED
        [payout] = await payouts_of(db, case)
        assert payout.status == PayoutStatus.SUCCEEDED and payout.polls >= 2
    finally:
        await asyncio.to_thread(embedded.stop)
        runtime.reset()


SET_CONTACT = """mutation($input: SetEscalationContactInput!) {
  setEscalationContact(input: $input) { escalationContact { tenantId assignee updatedBy }
  userErrors { code field } } }"""
GET_CONTACT = """query($id: ID!) { escalationContact(tenantId: $id) { assignee } }"""


def tenant_gid(tenant_id: Any) -> str:
    from qrefund.graphql_schema import ids

    return ids.encode("Tenant", tenant_id)


@pytest.mark.parametrize(("who", "role", "target", "assignee", "code"), [
    ("a", "VIEWER", None, "lead", "FORBIDDEN"),
    ("a", "REFUND_AGENT", None, "lead", "FORBIDDEN"),
    ("b", "ADMIN", "a", "lead", "NOT_FOUND"),
    ("other_agency", "ADMIN", "a", "lead", "NOT_FOUND"),
    ("a", "ADMIN", None, "   ", "REQUIRED"),
    ("a", "ADMIN", None, "x" * 81, "TOO_LONG"),
    ("operator", "ADMIN", None, "lead", "NOT_A_MERCHANT_OR_AGENCY"),
    ("operator", "ADMIN", "operator", "lead", "NOT_A_MERCHANT_OR_AGENCY"),
])
async def test_escalation_contact_refusals(
    client: httpx.AsyncClient, world: World, who: str, role: str, target: str | None,
    assignee: str, code: str,
) -> None:
    ids_by_name = {"a": world.merchant_a, "operator": world.operator_id}
    variables: dict[str, Any] = {"assignee": assignee}
    if target:
        variables["tenantId"] = tenant_gid(ids_by_name[target])
    data = await ok(client, SET_CONTACT, {"input": variables}, key=world.key(who, role))
    payload = data["setEscalationContact"]
    assert payload["escalationContact"] is None
    assert [e["code"] for e in payload["userErrors"]] == [code]
    current = await ok(client, GET_CONTACT, {"id": tenant_gid(world.merchant_a)},
                       key=world.key("a", "VIEWER"))
    assert current["escalationContact"] is None


async def test_an_agency_sets_its_merchants_contact(
    client: httpx.AsyncClient, world: World
) -> None:
    data = await ok(client, SET_CONTACT, {"input": {"tenantId": tenant_gid(world.merchant_a),
                                                    "assignee": " lead@a "}},
                    key=world.key("agency"))
    contact = data["setEscalationContact"]["escalationContact"]
    assert contact["assignee"] == "lead@a" and contact["tenantId"] == tenant_gid(world.merchant_a)
    again = await ok(client, SET_CONTACT, {"input": {"assignee": "boss@a"}}, key=world.key("a"))
    assert again["setEscalationContact"]["escalationContact"]["assignee"] == "boss@a"
    seen = await ok(client, GET_CONTACT, {"id": tenant_gid(world.merchant_a)},
                    key=world.key("a", "VIEWER"))
    assert seen["escalationContact"] == {"assignee": "boss@a"}
    hidden = await client.post("/graphql", json={"query": GET_CONTACT, "variables": {
        "id": tenant_gid(world.merchant_a)}}, headers={"Authorization": f"Bearer {world.key('b')}"})
    assert hidden.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_simple_workers_reuse_one_loop_and_a_connection_pool(
    job_settings: Settings, redis_conn: Any
) -> None:
    from sqlalchemy.pool import NullPool

    async def which_database() -> tuple[int, bool, int]:
        db = runtime.database()
        await db.ping()
        return id(db), isinstance(db.write_engine.pool, NullPool), id(asyncio.get_running_loop())

    def two_jobs() -> list[tuple[int, bool, int]]:
        try:
            return [runtime.run_on_job_loop(which_database()) for _ in range(2)]
        finally:
            runtime.close_job_loop()

    runtime.reset()
    runtime.configure(settings=job_settings, redis=redis_conn)
    try:
        first, second = await asyncio.to_thread(two_jobs)
        assert first == second  # the same loop and database for both jobs
        if not job_settings.is_sqlite:  # SQLite engines never pool (a file, no server)
            assert first[1] is False
            assert isinstance(runtime.database().write_engine.pool, NullPool)  # off the loop
    finally:
        runtime.reset()


async def test_serve_refuses_several_processes_without_redis(jobs: JobHarness) -> None:
    done = await asyncio.to_thread(cli, jobs.settings, "serve", "--workers", "2",
                                   QREFUND_REDIS_URL="")
    assert done.returncode == 2 and "QREFUND_REDIS_URL" in done.stderr


APPROVE = """mutation($input: ApproveRefundInput!) { approveRefund(input: $input) {
  refundCase { status } userErrors { code } } }"""


async def test_serve_without_redis_runs_the_jobs_in_process(
    settings: Settings, db: Database, world: World
) -> None:
    """The app as `qrefund serve` runs it, lifespan included: jobs run in-process."""
    from qrefund.app import create_app
    from qrefund.graphql_schema import ids
    from qrefund.platform.refunds import service as refunds
    from tests.jobs.support import as_, submitted_case

    case = await submitted_case(db, world, "10.00")
    async with db.unit_of_work(await as_(db, world, "a", "REFUND_AGENT")) as uow:
        await refunds.start_review(uow, case.tenant_id, case.id)
    runtime.reset()
    app = create_app(settings.model_copy(update={"redis_url": None}))
    try:
        async with app.router.lifespan_context(app):
            assert runtime.is_embedded()
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://serve") as client:
                variables = {"input": {"id": ids.encode("RefundCase", case.tenant_id, case.id)}}
                data = await ok(client, APPROVE, variables, key=world.key("a", "REFUND_AGENT"))
            assert data["approveRefund"]["refundCase"]["status"] == "APPROVED"
            for _ in range(300):  # a condition wait: the embedded worker pays out meanwhile
                if (await fresh_case(db, case)).status == RefundCaseStatus.REFUNDED:
                    break
                await asyncio.sleep(0.1)
    finally:
        runtime.reset()
    assert (await fresh_case(db, case)).status == RefundCaseStatus.REFUNDED


async def test_the_scheduler_command_enqueues_the_periodic_jobs(jobs: JobHarness) -> None:
    import signal
    import subprocess
    import sys

    from tests.jobs.support import subprocess_env

    jobs.clear_queues()
    build_scheduler(jobs.redis, jobs.settings)  # loads every module that registers one
    names = sorted(p.name for p in PERIODIC)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "qrefund", "scheduler", env=subprocess_env(jobs.settings),
        stderr=subprocess.PIPE)
    try:
        for _ in range(300):  # a condition wait: the first runs are enqueued at start
            if set(_periodic_jobs(jobs)) == set(names):
                break
            await asyncio.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = await proc.communicate()
    assert set(_periodic_jobs(jobs)) == set(names), err
    assert proc.returncode == 0, err
