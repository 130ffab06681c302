"""/readyz checks Redis too (when one is configured): down is 503, naming it."""

from __future__ import annotations

import httpx

from qrefund.app import create_app
from qrefund.platform.config import Settings
from qrefund.platform.db import Database


async def test_readyz_is_503_when_redis_is_down(settings: Settings, db: Database) -> None:
    no_redis = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    transport = httpx.ASGITransport(app=create_app(no_redis, db))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        assert (await c.get("/healthz")).status_code == 200
        ready = await c.get("/readyz")
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "database": "up", "redis": "down"}
