"""Real servers (uvicorn in a thread, its own loop and engine) and the relay for these tests."""

from __future__ import annotations

import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import uvicorn
from redis import Redis

from qrefund.app import create_app
from qrefund.jobs import runtime
from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from tests.subscriptions.support import Server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def serve(settings: Settings) -> Iterator[Callable[..., Server]]:
    """``serve(**settings_overrides)`` starts a server; all stop when the test ends."""
    running: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(**overrides: Any) -> Server:
        app = create_app(settings.model_copy(update=overrides))
        port = _free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                ws="websockets-sansio", lifespan="on")
        srv = uvicorn.Server(config)
        thread = threading.Thread(target=srv.run, daemon=True)
        thread.start()
        running.append((srv, thread))
        for _ in range(250):
            if srv.started:
                break
            threading.Event().wait(0.02)
        assert srv.started, "the server did not start"
        return Server(ws=f"ws://127.0.0.1:{port}/graphql",
                      http=f"http://127.0.0.1:{port}/graphql", app=app)

    yield start
    for srv, _thread in running:
        srv.should_exit = True
    for _srv, thread in running:
        thread.join(timeout=10)


@pytest.fixture
def server(serve: Callable[..., Server]) -> str:
    """A server with the default settings; its WebSocket URL."""
    return serve().ws


@pytest.fixture
async def relay(settings: Settings, redis_conn: Redis) -> AsyncIterator[None]:
    """The outbox relay, run by the test itself (``relay_pending()``), on the test Redis."""
    job_db = Database(settings, pooled=False)
    runtime.reset()
    runtime.configure(settings=settings, db=job_db, redis=redis_conn)
    yield
    runtime.reset()
    await job_db.dispose()
