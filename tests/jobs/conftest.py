"""Job tests: the job runtime pointed at the test database and Redis, real RQ workers."""

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
def job_settings(settings: Settings) -> Settings:
    """The suite's settings with no waits between payout retries, polls and job retries."""
    return settings.model_copy(update={"payout_poll_seconds": (0,),
                                       "payout_retry_seconds": (0, 0, 0),
                                       "job_retry_seconds": (0, 0)})


@pytest.fixture
async def jobs(job_settings: Settings, redis_conn: Redis) -> AsyncIterator[JobHarness]:
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
