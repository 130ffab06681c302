"""Risk tests: the risk screens registered (as the app, workers and CLI do at start-up)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis import Redis

from qrefund.jobs import runtime
from qrefund.platform import risk
from qrefund.platform.config import Settings
from qrefund.platform.db import Database


@pytest.fixture(autouse=True)
def risk_installed() -> None:
    risk.install()


@pytest.fixture
async def job_runtime(settings: Settings, db: Database, redis_conn: Redis
                      ) -> AsyncIterator[None]:
    """The job runtime on the test database and Redis (jobs called in-process)."""
    runtime.reset()
    runtime.configure(settings=settings, db=db, redis=redis_conn)
    try:
        yield
    finally:
        runtime.reset()
