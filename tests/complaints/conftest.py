"""Fixtures for complaint tests: a settable clock, and the webhook plumbing (a real HTTP
receiver, the job runtime on real Redis) for what leaves the platform."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta

import pytest
from redis import Redis

from qrefund.jobs import runtime
from qrefund.jobs.relay import install_nudge, uninstall_nudge
from qrefund.platform.complaints import autoclose, events, intake, service
from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from tests.jobs.support import JobHarness
from tests.webhooks.support import Jobs, Receiver


class Clock:
    """"Now" for the complaints domain, moved by the test (deadline arithmetic at known
    instants: a holiday, a weekend, a pause)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def at(self, instant: datetime) -> None:
        self.now = instant

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fixed = Clock(datetime.fromisoformat("2026-09-30T15:00:00+08:00"))
    for module in (intake, service, events, autoclose):
        monkeypatch.setattr(module, "utcnow", fixed)
    return fixed


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def jobs(settings: Settings, redis_conn: Redis) -> AsyncIterator[Jobs]:
    harness = Jobs(settings.model_copy(update={"webhook_timeout_seconds": 2}), redis_conn)
    yield harness
    await harness.close()


@pytest.fixture
async def workers(settings: Settings, redis_conn: Redis) -> AsyncIterator[JobHarness]:
    """The job runtime on the test database and Redis (outbox relay nudged on commit),
    drained by real RQ workers: the deadline, auto-close and notification jobs."""
    job_settings = settings.model_copy(update={"job_retry_seconds": (0, 0)})
    job_db = Database(job_settings, pooled=False)
    runtime.reset()
    runtime.configure(settings=job_settings, db=job_db, redis=redis_conn)
    install_nudge()
    try:
        yield JobHarness(job_db, redis_conn, job_settings)
    finally:
        uninstall_nudge()
        runtime.reset()
        await job_db.dispose()
