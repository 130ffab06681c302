"""Fixtures for export tests: the job runtime on the test database and Redis (the
outbox relay nudged on commit), drained by real RQ workers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis import Redis

from qrefund.jobs import runtime
from qrefund.jobs.relay import install_nudge, uninstall_nudge
from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from tests.jobs.support import JobHarness


@pytest.fixture
async def workers(settings: Settings, redis_conn: Redis) -> AsyncIterator[JobHarness]:
    job_db = Database(settings, pooled=False)
    runtime.reset()
    runtime.configure(settings=settings, db=job_db, redis=redis_conn)
    install_nudge()
    try:
        yield JobHarness(job_db, redis_conn, settings)
    finally:
        uninstall_nudge()
        runtime.reset()
        await job_db.dispose()
