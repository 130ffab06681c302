"""Channel tests: a fake WeChat Pay on loopback, an app and a job runtime pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from redis import Redis

from qrefund.app import create_app
from qrefund.jobs import runtime
from qrefund.jobs.relay import install_nudge, uninstall_nudge
from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from tests.channels.fake_alipay import FakeAlipay
from tests.channels.fake_wechatpay import FakeWeChatPay
from tests.jobs.support import JobHarness


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeWeChatPay]:
    server = FakeWeChatPay()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fake(fake_server: FakeWeChatPay) -> FakeWeChatPay:
    fake_server.reset()
    return fake_server


@pytest.fixture(scope="module")
def alipay_server() -> Iterator[FakeAlipay]:
    server = FakeAlipay()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def alipay(alipay_server: FakeAlipay) -> FakeAlipay:
    alipay_server.reset()
    return alipay_server


@pytest.fixture(scope="module")
def channel_settings(settings: Settings, fake_server: FakeWeChatPay,
                     alipay_server: FakeAlipay) -> Settings:
    return settings.model_copy(update={
        "wechatpay_api_base": fake_server.url, "alipay_gateway": alipay_server.url,
        "public_base_url": "https://pay.example.com",
        "payout_poll_seconds": (3600,), "payout_retry_seconds": (0, 0, 0),
        "job_retry_seconds": (0, 0)})


@pytest.fixture(scope="module")
def channel_app(channel_settings: Settings, db: Database) -> object:
    return create_app(channel_settings, db)


@pytest.fixture
async def client(channel_app: object) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=channel_app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def jobs(channel_settings: Settings, redis_conn: Redis) -> AsyncIterator[JobHarness]:
    job_db = Database(channel_settings, pooled=False)
    runtime.reset()
    runtime.configure(settings=channel_settings, db=job_db, redis=redis_conn)
    install_nudge()
    try:
        yield JobHarness(job_db, redis_conn, channel_settings)
    finally:
        uninstall_nudge()
        runtime.reset()
        await job_db.dispose()
