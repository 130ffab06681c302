"""The per-process API key cache: what a request costs with it, and that revocation and
tenant changes still reach every process within a second (two app instances sharing
Redis stand for two API processes)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from starlette.applications import Starlette

from qrefund.app import create_app
from qrefund.graphql_schema import ids
from qrefund.graphql_schema.view import QrefundGraphQL
from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from tests.support.graphql import ok
from tests.support.statements import round_trips
from tests.support.world import World

CREATE_KEY = """mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) {
  apiKey { id } secret userErrors { code } } }"""
REVOKE_KEY = """mutation($i: RevokeApiKeyInput!) { revokeApiKey(input: $i) {
  apiKey { revokedAt } userErrors { code } } }"""
VIEWER_Q = "{ viewer { role tenant { slug } } }"
PAGE_Q = "{ transactions(first: 5) { edges { node { id } } } }"


def _view(app: Starlette) -> QrefundGraphQL:
    return next(r.endpoint for r in app.routes  # type: ignore[attr-defined]
                if getattr(r, "path", "") == "/graphql"
                and isinstance(getattr(r, "endpoint", None), QrefundGraphQL))


@pytest.fixture
async def processes(settings: Settings, db: Database,
                    redis_conn: Any) -> AsyncIterator[list[tuple[Starlette, httpx.AsyncClient]]]:
    """Two running applications (lifespan started) on the test Redis: A and B."""
    async with AsyncExitStack() as stack:
        apps = []
        for _ in range(2):
            app = create_app(settings, db)
            await stack.enter_async_context(app.router.lifespan_context(app))
            client = await stack.enter_async_context(httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://testserver"))
            apps.append((app, client))
        for app, _client in apps:  # the cache is on once its subscription is live
            for _ in range(100):
                if _view(app).key_cache.enabled:
                    break
                await asyncio.sleep(0.02)
            assert _view(app).key_cache.enabled
        yield apps


async def _new_key(client: httpx.AsyncClient, world: World) -> tuple[str, str]:
    variables = {"i": {"tenantId": ids.encode("Tenant", world.merchant_a), "name": "till",
                       "role": "VIEWER"}}
    payload = (await ok(client, CREATE_KEY, variables, key=world.key("a")))["createApiKey"]
    assert payload["userErrors"] == []
    return payload["apiKey"]["id"], payload["secret"]


async def _refused_within(client: httpx.AsyncClient, key: str, seconds: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        response = await client.post("/graphql", json={"query": VIEWER_Q},
                                     headers={"Authorization": f"Bearer {key}"})
        if response.status_code == 401:
            return time.monotonic() - started
        assert response.status_code == 200, response.text
        await asyncio.sleep(0.02)
    raise AssertionError(f"key still accepted {seconds} s after the change")


async def test_a_revoked_key_is_refused_by_another_process_within_a_second(
    processes: list[tuple[Starlette, httpx.AsyncClient]], world: World
) -> None:
    (_app_a, a), (app_b, b) = processes
    key_id, secret = await _new_key(a, world)
    await ok(b, VIEWER_Q, key=secret)
    await ok(b, VIEWER_Q, key=secret)
    assert len(_view(app_b).key_cache._entries) >= 1  # B answers from its cache now

    data = await ok(a, REVOKE_KEY, {"i": {"id": key_id}}, key=world.key("a"))
    assert data["revokeApiKey"]["apiKey"]["revokedAt"] is not None
    took = await _refused_within(b, secret, 1.0)
    assert took < 1.0
    # The process that revoked refuses at once (its own cache is cleared before it answers).
    response = await a.post("/graphql", json={"query": VIEWER_Q},
                            headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 401


async def test_a_new_merchant_is_in_its_agency_key_scope_at_once(
    processes: list[tuple[Starlette, httpx.AsyncClient]], world: World
) -> None:
    (_app_a, a), (_app_b, b) = processes
    query = "{ merchants(first: 50) { edges { node { slug } } } }"
    agency = world.key("agency")
    for client in (a, b):
        await ok(client, query, key=agency)  # cached in both processes
    created = await ok(a, """mutation($i: CreateMerchantInput!) { createMerchant(input: $i) {
        merchant { id } userErrors { code } } }""",
                       {"i": {"name": "New Shop", "slug": "new-shop"}}, key=agency)
    assert created["createMerchant"]["userErrors"] == []
    slugs = {e["node"]["slug"] for e in (await ok(a, query, key=agency))["merchants"]["edges"]}
    assert "new-shop" in slugs
    started = time.monotonic()
    while True:
        data = await ok(b, query, key=agency)
        if "new-shop" in {e["node"]["slug"] for e in data["merchants"]["edges"]}:
            break
        assert time.monotonic() - started < 1.0, "process B still has the old agency scope"
        await asyncio.sleep(0.02)


async def test_a_wrong_secret_is_refused_even_when_the_key_is_cached(
    processes: list[tuple[Starlette, httpx.AsyncClient]], world: World
) -> None:
    (_app_a, a), _b = processes
    await ok(a, VIEWER_Q, key=world.key("a"))
    forged = world.key("a")[:-4] + ("AAAA" if not world.key("a").endswith("AAAA") else "BBBB")
    response = await a.post("/graphql", json={"query": VIEWER_Q},
                            headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


async def test_a_cached_read_is_begin_scope_query_commit(
    processes: list[tuple[Starlette, httpx.AsyncClient]], world: World, db: Database
) -> None:
    (_app, a), _b = processes
    await ok(a, PAGE_Q, key=world.key("a"))  # the key's look-up, now cached
    with round_trips(db) as seen:
        await ok(a, PAGE_Q, key=world.key("a"))
    if db.is_sqlite:  # no RLS setting; BEGIN comes from the engine's own hook
        assert [s for s in seen if s != "BEGIN"] == ["SELECT", "COMMIT"], seen
    else:
        # BEGIN, one set_config with the whole scope, the page, COMMIT (never ROLLBACK:
        # psycopg would drop its prepared statements) and no pre-ping.
        assert seen == ["BEGIN", "SELECT", "SELECT", "COMMIT"], seen
        assert not db.read_engine.sync_engine.pool._pre_ping  # type: ignore[attr-defined]


async def test_an_uncached_read_looks_the_key_up_in_the_same_unit(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    """Without the lifespan (no pub/sub listener) nothing is cached: every request looks
    its key up, in the unit that then serves the read."""
    await ok(client, PAGE_Q, key=world.key("a"))
    with round_trips(db) as seen:
        await ok(client, PAGE_Q, key=world.key("a"))
    if not db.is_sqlite:
        # BEGIN, look-up scope, key look-up, caller scope, page, COMMIT.
        assert seen == ["BEGIN", "SELECT", "SELECT", "SELECT", "SELECT", "COMMIT"], seen


async def test_a_client_that_disconnects_mid_request_is_one_log_line(
    app: Starlette, caplog: pytest.LogCaptureFixture
) -> None:
    scope = {"type": "http", "method": "POST", "path": "/graphql", "raw_path": b"/graphql",
             "query_string": b"", "root_path": "", "scheme": "http", "http_version": "1.1",
             "server": ("testserver", 80), "client": ("127.0.0.1", 5000),
             "headers": [(b"content-type", b"application/json"),
                         (b"content-length", b"40")]}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with caplog.at_level(logging.INFO):
        await app(scope, receive, send)  # type: ignore[operator]
    assert sent == []  # nobody to answer
    assert [r.message for r in caplog.records if "disconnected" in r.message] == [
        "client disconnected before its request was read"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def _kill_client_backends(owner_engine: Any) -> int:
    """Terminate every other client connection to the test database (a restarted
    server, as the pools see it); returns how many."""
    with owner_engine.begin() as conn:
        return int(conn.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend'")).scalar())


async def test_a_pooled_connection_that_died_is_replaced_without_an_error(
    client: httpx.AsyncClient, world: World, db: Database, owner_engine: Any
) -> None:
    """No pre-ping: a connection the server closed under the pool is found dead by the
    unit's first statement, which then runs once more on a new connection."""
    if db.is_sqlite:
        pytest.skip("SQLite connections are not pooled")
    await ok(client, PAGE_Q, key=world.key("a"))  # the pool holds a connection now
    killed = _kill_client_backends(owner_engine)
    assert killed >= 1
    for _ in range(3):
        await ok(client, PAGE_Q, key=world.key("a"))


async def test_every_pooled_connection_dead_at_once_is_replaced_without_an_error(
    client: httpx.AsyncClient, world: World, db: Database, owner_engine: Any
) -> None:
    """A restarted server leaves every pooled connection dead: the first one found dead
    (by a statement SQLAlchemy runs or one run on the driver) recycles the others too,
    so the unit's one retry never draws a second dead one."""
    if db.is_sqlite:
        pytest.skip("SQLite connections are not pooled")
    # Several requests at once: the pools hold several connections each.
    await asyncio.gather(*(ok(client, PAGE_Q, key=world.key(who))
                           for who in ("a", "b", "a", "b", "a", "b")))
    killed = _kill_client_backends(owner_engine)
    assert killed >= 3
    for who in ("a", "b", "a", "b", "a", "b"):
        await ok(client, PAGE_Q, key=world.key(who))


def test_one_request_looks_a_key_up_again_in_the_second_half_of_its_life(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Late in an entry's life the first request that finds it refreshes it while the
    others keep using it: no key expires under load with every request looking it up."""
    from qrefund.tenants import key_cache
    from qrefund.tenants.key_cache import KeyCache

    clock = [1000.0]
    monkeypatch.setattr(key_cache.time, "monotonic", lambda: clock[0])
    cache = KeyCache(4.0)
    cache.listen_while(lambda: True)
    key = uuid.uuid4()
    scope: Any = object()  # stored and handed back, never read by the cache
    cache.put(key, "h", scope, None, None)
    clock[0] += 1.9  # first half: everyone uses it
    assert cache.get(key, "h") is not None and cache.get(key, "h") is not None
    clock[0] += 0.2  # second half: one request refreshes, the rest still use it
    # (the rate limiter's look, known_key_id, claims no refresh: the request it looks
    # for must still be the one that refreshes)
    assert cache.holds(key, "h") and cache.holds(key, "h")
    assert cache.get(key, "h") is None
    assert all(cache.get(key, "h") is not None for _ in range(20))
    assert cache.get(key, "wrong") is None
    clock[0] += 2.0  # past its life with no refresh put: nobody uses it
    assert cache.get(key, "h") is None and cache.get(key, "h") is None
    cache.put(key, "h", scope, None, None)  # what a look-up puts
    assert cache.get(key, "h") is not None
