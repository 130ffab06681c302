"""Fixtures for complaint tests: a settable clock, and the webhook plumbing (a real HTTP
receiver, the job runtime on real Redis) for what leaves the platform."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta

import pytest
from redis import Redis

from qrefund.platform.complaints import events, intake, service
from qrefund.platform.config import Settings
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
    for module in (intake, service, events):
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
