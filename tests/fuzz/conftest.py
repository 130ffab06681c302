"""Fixtures of the fuzz suite: the world, and the app schemathesis drives.

Schemathesis calls an ASGI app through a synchronous client on an event loop of
its own (one thread for the process), so the fuzzed app is built here with a
:class:`~qrefund.platform.db.Database` of its own, never the session ``db``
fixture's engine, which belongs to the tests' loop. Its lifespan (started by
schemathesis on first use) is ended when the test is done.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from redis import Redis
from schemathesis.python.asgi import shutdown_lifespans

from qrefund.app import create_app
from qrefund.platform.config import Settings
from tests.fuzz.checks import Inspector, TenantTree
from tests.fuzz.strategies import CURSORS, POOL, TOKENS
from tests.fuzz.world import FuzzWorld, build_fuzz_world
from tests.support.world import World

# Schemathesis would put literals of the app's own source ("?", 413, log formats) into
# generated arguments, ids included; our scalar strategies already say what to send.
CONFIG = schemathesis.Config.from_dict({"analysis": {"constants": {"enabled": False}}})


@pytest.fixture
async def fuzz_world(client: httpx.AsyncClient, world: World, settings: Settings,
                     redis_conn: Redis) -> FuzzWorld:
    fuzz = await build_fuzz_world(client, world, settings, redis_conn)
    POOL.update(fuzz.ids_by_type())  # what the ID strategy draws from
    CURSORS[:] = fuzz.cursors
    TOKENS[:] = fuzz.tokens
    return fuzz


@pytest.fixture
def inspector(fuzz_world: FuzzWorld, owner_engine: Any) -> Inspector:
    return Inspector(fuzz_world, TenantTree(owner_engine))


@pytest.fixture
def fuzz_schema(settings: Settings, fuzz_world: FuzzWorld) -> Iterator[Any]:
    app = create_app(settings)  # owns its Database, on schemathesis' event loop
    try:
        yield schemathesis.graphql.from_asgi("/graphql", app, config=CONFIG)
    finally:
        shutdown_lifespans()  # disposes the app's engine, unhooks the outbox nudge
        POOL.clear()
        CURSORS.clear()
        TOKENS.clear()
