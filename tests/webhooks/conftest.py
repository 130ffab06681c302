"""Fixtures for webhook tests: a real HTTP receiver and the job runtime on real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from redis import Redis

from qrefund.platform.config import Settings
from tests.webhooks.support import Jobs, Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def jobs(settings: Settings, redis_conn: Redis) -> AsyncIterator[Jobs]:
    # Short timeouts keep the timeout case quick; loopback targets are allowed (tests).
    runtime_settings = settings.model_copy(update={"webhook_timeout_seconds": 0.5})
    harness = Jobs(runtime_settings, redis_conn)
    yield harness
    await harness.close()
