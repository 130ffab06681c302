"""A Redis restart needs no application restart (README "Scaling out").

The API keeps serving while its own Redis (started by this test on another port) is
down: the rate limiter fails open and commits leave their events in the outbox. Once
Redis is back (empty: no persistence), the same process enqueues jobs, counts and
enforces rate limits again, and the catch-up relay delivers what the outage held back.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from redis import Redis
from rq import Queue

from qrefund.app import create_app
from qrefund.jobs import relay, runtime
from qrefund.jobs.relay import install_nudge, relay_pending, uninstall_nudge
from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from tests.foundation.helpers import RECORD, txn_input
from tests.support.graphql import gql
from tests.support.redis_server import BINARY, RedisServer
from tests.support.world import World

pytestmark = pytest.mark.skipif(BINARY is None, reason="redis-server is not installed")

LIMIT = 5  # requests per key per minute in this test


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
async def restart_client(settings: Settings, db: Database, redis_server: RedisServer,
                         monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    own = settings.model_copy(update={"redis_url": redis_server.url,
                                      "rate_limit_per_key": f"{LIMIT}/minute"})
    monkeypatch.setattr(relay, "NUDGE_PAUSE_SECONDS", 0.2)
    runtime.reset()
    runtime.configure(settings=own, db=db)  # the runtime builds its own Redis client
    install_nudge()
    transport = httpx.ASGITransport(app=create_app(own, db))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c
    finally:
        uninstall_nudge()
        runtime.reset()


async def _record(client: httpx.AsyncClient, key: str) -> httpx.Response:
    return await client.post("/graphql", json={"query": RECORD,
                                               "variables": {"input": txn_input()}},
                             headers={"Authorization": f"Bearer {key}"})


def _relay_jobs(url: str) -> int:
    with Redis.from_url(url) as conn:
        return Queue(relay.QUEUE_RELAY, connection=conn).count


def _limiter_keys(url: str) -> int:
    with Redis.from_url(url) as conn:
        return len(conn.keys("qrefund:rl*"))


async def test_the_api_reconnects_after_a_redis_restart(
    restart_client: httpx.AsyncClient, world: World, redis_server: RedisServer,
) -> None:
    key = world.key("a")
    # Given a request served with Redis up: a job enqueued, the limiter counting
    before = _relay_jobs(redis_server.url)
    first = await _record(restart_client, key)
    assert first.status_code == 200 and "errors" not in first.json(), first.text
    assert _relay_jobs(redis_server.url) == before + 1
    assert _limiter_keys(redis_server.url) > 0

    # When Redis goes away, requests are still served (limiter open, events kept)
    redis_server.stop()
    during = await _record(restart_client, key)
    assert during.status_code == 200 and "errors" not in during.json(), during.text

    # And Redis comes back empty on the same address, the process not restarted
    redis_server.start()
    await asyncio.sleep(0.3)  # past the nudge pause that followed the refused nudge
    assert _relay_jobs(redis_server.url) == 0
    after = await _record(restart_client, key)

    # Then the same process enqueues again and the limiter counts again
    assert after.status_code == 200 and "errors" not in after.json(), after.text
    assert _relay_jobs(redis_server.url) == 1
    assert _limiter_keys(redis_server.url) > 0
    # And enforces its limit: one request counted above, LIMIT - 1 more pass, then 429
    for _ in range(LIMIT - 1):
        assert (await gql(restart_client, "{ viewer { role } }", key=key))["data"]
    refused = await restart_client.post("/graphql", json={"query": "{ viewer { role } }"},
                                        headers={"Authorization": f"Bearer {key}"})
    assert refused.status_code == 429

    # And the catch-up relay delivers the events the outage held back (its nudge failed)
    assert await relay_pending() >= 1
    assert await relay_pending() == 0
