"""Fixtures of the consumer page tests: an app with tight portal budgets."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from redis import Redis

from qrefund.app import create_app
from qrefund.platform.config import Settings
from qrefund.platform.db import Database


@pytest.fixture(autouse=True)
def fresh_budgets(redis_conn: Redis) -> None:
    """Each test starts with full page budgets (the counters live in the test Redis)."""


@pytest.fixture
async def tight_client(settings: Settings, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app whose page budgets are small (in-process counters)."""
    tight = settings.model_copy(update={
        "redis_url": None,
        "rate_limit_portal_address": "12/minute",
        "rate_limit_portal_token": "3/minute",
        "rate_limit_otp_contact": "2/hour",
        "rate_limit_otp_address": "4/hour",
    })
    app = create_app(tight, db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
