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


async def test_a_redis_that_never_answers_is_given_up_on_after_the_call_timeout(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The one-call script has one timeout for the whole call (redis-py's per-write
    socket timeout is off for it): a Redis that accepts the connection and never
    answers costs a request that timeout, then the limiter fails open."""
    from qrefund.platform import ratelimit

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # reads whatever comes and never answers
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    limiter = ratelimit.RateLimiter(settings.model_copy(update={
        "redis_url": f"redis://127.0.0.1:{port}/0", "rate_limit_enabled": True}))
    assert limiter.known_key_checks is not None
    limiter.known_key_checks.timeout = 0.3
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        verdict = await limiter.known_key_request("127.0.0.1", str(uuid.uuid4()))
        waited = loop.time() - started
    finally:
        await limiter.close()
        server.close()
    assert verdict.allowed
    # The call's own 0.3 s, not redis-py's 5 s socket timeout per read.
    assert 0.25 < waited < 2.5, waited


@pytest.fixture
async def limiter(settings: Settings, redis_conn: Any) -> AsyncIterator[Any]:
    from qrefund.platform.ratelimit import RateLimiter

    limiter = RateLimiter(settings.model_copy(update={
        "rate_limit_enabled": True, "rate_limit_per_key": "5/minute",
        "rate_limit_auth_failures": "2/minute"}))
    yield limiter
    await limiter.close()


async def test_the_checks_of_one_loop_turn_share_one_call_and_count_as_if_sent_alone(
        limiter: Any) -> None:
    """Twelve requests of one key at once: one script call, and exactly the key's five
    requests served, as twelve calls one after the other would have it."""
    checks = limiter.known_key_checks
    key_id, other = str(uuid.uuid4()), str(uuid.uuid4())
    before = checks.calls_made
    verdicts = await asyncio.gather(
        *(limiter.known_key_request("10.1.1.1", key_id) for _ in range(12)),
        limiter.known_key_request("10.1.1.2", other))
    assert checks.calls_made == before + 1
    assert [v.allowed for v in verdicts] == [True] * 5 + [False] * 7 + [True]
    assert all(1 <= v.retry_after <= 60 for v in verdicts[5:12])
    # The next turn is a call of its own, and the key's budget stays spent.
    assert not (await limiter.known_key_request("10.1.1.3", key_id)).allowed
    assert checks.calls_made == before + 2


async def test_a_blocked_address_in_a_shared_call_refuses_only_its_own_requests(
        limiter: Any) -> None:
    blocked, free = "10.2.2.1", "10.2.2.2"
    for _ in range(2):
        await limiter.auth_failed(blocked)
    key_id = str(uuid.uuid4())
    first, second, third = await asyncio.gather(
        limiter.known_key_request(blocked, key_id),
        limiter.known_key_request(free, key_id),
        limiter.known_key_request(blocked, str(uuid.uuid4())))
    assert (first.allowed, second.allowed, third.allowed) == (False, True, False)
    # The blocked address's request did not spend the key's budget: four more fit.
    verdicts = await asyncio.gather(*(limiter.known_key_request(free, key_id)
                                      for _ in range(5)))
    assert [v.allowed for v in verdicts] == [True] * 4 + [False]


async def test_a_request_gone_before_its_answer_leaves_the_others_answered(
        limiter: Any) -> None:
    key_id = str(uuid.uuid4())
    gone = asyncio.ensure_future(limiter.known_key_request("10.3.3.1", key_id))
    staying = asyncio.ensure_future(limiter.known_key_request("10.3.3.1", key_id))
    await asyncio.sleep(0)  # both asked in this turn: their call is on its way
    gone.cancel()
    assert (await staying).allowed
    assert gone.cancelled()
