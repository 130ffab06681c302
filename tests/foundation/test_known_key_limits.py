"""Rate limits of a request whose key is in the process's key cache: both budgets (the
address's failed-authentication budget and the key's own) are checked in one Redis call
(``RateLimiter.known_key_request``) over the counters the ``limits`` library keeps, so
the two paths (cached and looked up) must count and refuse alike."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest

from qrefund.app import create_app
from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from tests.foundation.test_key_cache import _view
from tests.support.world import World

VIEWER_Q = "{ viewer { role } }"

Started = Callable[..., Any]


@pytest.fixture
async def started(settings: Settings, db: Database,
                  redis_conn: Any) -> AsyncIterator[Started]:
    """Running apps (lifespan started, key cache live) with other settings, each reached
    from a fresh client address."""
    async with AsyncExitStack() as stack:

        async def start(**changes: Any) -> httpx.AsyncClient:
            app = create_app(settings.model_copy(update=changes), db)
            await stack.enter_async_context(app.router.lifespan_context(app))
            for _ in range(100):
                if _view(app).key_cache.enabled:
                    break
                await asyncio.sleep(0.02)
            assert _view(app).key_cache.enabled
            address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"
            transport = httpx.ASGITransport(app=app, client=(address, 4242))  # type: ignore[arg-type]
            return await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://testserver"))

        yield start


async def _status(client: httpx.AsyncClient, key: str) -> int:
    response = await client.post("/graphql", json={"query": VIEWER_Q},
                                 headers={"Authorization": f"Bearer {key}"})
    return response.status_code


async def test_a_cached_key_spends_its_budget_like_a_looked_up_one(
    started: Started, world: World
) -> None:
    client = await started(rate_limit_per_key="3/minute")
    key = world.key("a", "VIEWER")
    # The first request looks the key up; the next ones find it cached.
    assert [await _status(client, key) for _ in range(4)] == [200, 200, 200, 429]
    refused = await client.post("/graphql", json={"query": VIEWER_Q},
                                headers={"Authorization": f"Bearer {key}"})
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert await _status(client, world.key("b")) == 200  # another key is not affected


async def test_refused_keys_block_the_address_for_a_cached_key_too(
    started: Started, world: World
) -> None:
    client = await started(rate_limit_auth_failures="2/minute")
    key = world.key("a")
    assert await _status(client, key) == 200  # now cached
    bad = "qr_live_" + "0" * 64 + "_guess"
    assert [await _status(client, bad) for _ in range(2)] == [401, 401]
    # The cached key answers from memory, but the address is blocked all the same: a
    # blocked address learns nothing about which keys are real.
    blocked = await client.post("/graphql", json={"query": VIEWER_Q},
                                headers={"Authorization": f"Bearer {key}"})
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) >= 1


async def test_a_wrong_secret_does_not_spend_a_real_keys_budget(
    started: Started, world: World
) -> None:
    client = await started(rate_limit_per_key="3/minute")
    key = world.key("a", "VIEWER")
    assert await _status(client, key) == 200  # cached from here on
    prefix, _, secret = key.rpartition("_")
    forged = f"{prefix}_{'x' * len(secret)}"  # the real key's id, another secret
    assert [await _status(client, forged) for _ in range(5)] == [401] * 5
    assert [await _status(client, key) for _ in range(3)] == [200, 200, 429]
