"""Replayed WeChat Pay messages: a (serial, timestamp, nonce) accepted once is refused
the second time, for notifications (the provider's failure answer, nothing changes)
and for responses (untrusted: the payout job asks again, never acts on the copy).
The guard's storage: Redis (SET NX EX) when configured, else memory; both real."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from qrefund.graphql_schema.channels import callbacks as callback_routes
from qrefund.platform.channels import nonces, wechatpay
from qrefund.platform.channels.wechatpay import WeChatPayConfig
from qrefund.platform.payouts import callbacks
from qrefund.platform.payouts.channels import ChannelUnavailable, RefundRequest
from qrefund.platform.payouts.models import PayoutStatus
from qrefund.platform.vocabulary import RefundCaseStatus
from tests.channels.api import MCHID
from tests.channels.fake_wechatpay import PLATFORM_KEY_ID, FakeWeChatPay, api_v3_key
from tests.channels.flow import (
    notification,
    payout_event_count,
    post_notification,
    wechat_case,
    wechat_txn,
)
from tests.channels.keys import pair
from tests.conftest import REDIS_URL
from tests.jobs.support import JobHarness, approved_case, fresh_case, payouts_of
from tests.support.world import World

S = RefundCaseStatus


@pytest.mark.parametrize("store", [nonces.MemoryNonces(), nonces.RedisNonces(REDIS_URL)],
                         ids=["memory", "redis"])
async def test_a_key_is_new_once_until_forgotten(store: nonces.NonceStore) -> None:
    key = f"test:{uuid.uuid4()}"
    assert await store.first_use(key, 60) is True
    assert await store.first_use(key, 60) is False
    assert await store.first_use(key + "x", 60) is True
    await store.forget(key)
    assert await store.first_use(key, 60) is True


async def test_memory_keys_expire() -> None:
    store = nonces.MemoryNonces()
    assert await store.first_use("k", 0) is True
    assert await store.first_use("k", 60) is True  # the first one has expired
    assert await store.first_use("k", 60) is False


async def test_an_unreachable_redis_fails_closed() -> None:
    store = nonces.RedisNonces("redis://127.0.0.1:9/0")
    with pytest.raises(nonces.NonceStoreUnavailable):
        await store.first_use("k", 60)
    await store.forget("k")  # best effort, never raises


def test_the_store_follows_the_redis_setting(settings: Any) -> None:
    assert isinstance(nonces.store_for(settings.model_copy(update={"redis_url": None})),
                      nonces.MemoryNonces)
    shared = nonces.store_for(settings.model_copy(update={"redis_url": REDIS_URL}))
    assert isinstance(shared, nonces.RedisNonces)


def test_without_the_guard_a_message_is_not_trusted(fake: FakeWeChatPay) -> None:
    config, body = _config(fake), b'{"status":"SUCCESS"}'
    headers = fake.sign(body)
    down = nonces.RedisNonces("redis://127.0.0.1:9/0")
    with pytest.raises(wechatpay.SignatureRejected, match="replay guard is unavailable"):
        asyncio.run(wechatpay.verify_once(config, headers, body, down))
    # The guard never records an unverified message: a forgery cannot burn a nonce.
    store = nonces.MemoryNonces()
    with pytest.raises(wechatpay.SignatureRejected):
        asyncio.run(wechatpay.verify_once(config, headers, b'{"status":"CLOSED"}', store))
    asyncio.run(wechatpay.verify_once(config, headers, body, store))
    with pytest.raises(wechatpay.ReplayRejected):
        asyncio.run(wechatpay.verify_once(config, headers, body, store))


def _config(fake: FakeWeChatPay) -> WeChatPayConfig:
    keys, v3 = pair("merchant-a"), api_v3_key()
    fake.add_merchant(MCHID, keys, v3)
    return WeChatPayConfig(MCHID, None, keys.serial, keys.private_pem, v3, PLATFORM_KEY_ID,
                           pair("wechatpay-platform").public_pem, "https://pay.example.com/cb",
                           api_base=fake.url)


async def test_a_replayed_response_is_not_believed(fake: FakeWeChatPay) -> None:
    channel = wechatpay.WeChatPayChannel(_config(fake), nonce_store=nonces.MemoryNonces())
    request = RefundRequest(out_refund_no="QRREPLAY1", tenant_id=uuid.uuid4(), amount_minor=100,
                            currency="CNY", method="ORIGINAL_ROUTE", payment_channel="WECHAT_PAY",
                            provider_reference="4200", payment_amount_minor=100)
    fake.outcome = "PROCESSING"
    assert (await channel.refund(request)).status == "PROCESSING"
    # Every later answer is the first one again, byte for byte (headers and body).
    fake.replay_responses = True
    with pytest.raises(ChannelUnavailable, match="response refused"):
        await channel.query("QRREPLAY1")
    fake.replay_responses = False
    fake.settle("QRREPLAY1", "SUCCESS")
    assert (await channel.query("QRREPLAY1")).status == "SUCCEEDED"


async def test_a_replayed_response_in_a_payout_job_is_retried_not_acted_on(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, fake: FakeWeChatPay) -> None:
    """The first refund of a case is answered SUCCESS; a second case's refund call is
    answered with a copy of that answer: the job must not settle the second payout."""
    _account, first = await wechat_case(client, jobs.db, world, fake)
    await jobs.drain()
    assert (await payouts_of(jobs.db, first))[0].status == PayoutStatus.SUCCEEDED
    fake.replay_responses = True
    second = await approved_case(jobs.db, world, "20.00", txn=await wechat_txn(jobs.db, world))
    await jobs.drain()
    [payout] = await payouts_of(jobs.db, second)
    assert payout.status == PayoutStatus.PENDING  # retries spent, nothing believed
    assert (await fresh_case(jobs.db, second)).status != S.REFUNDED
    fake.replay_responses = False
    assert len(fake.refunds) == 1


async def test_a_replayed_notification_is_refused_and_counted(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, fake: FakeWeChatPay) -> None:
    fake.outcome = "PROCESSING"
    _account, case = await wechat_case(client, jobs.db, world, fake)
    await jobs.drain()
    [payout] = await payouts_of(jobs.db, case)
    fake.settle(payout.out_refund_no, "SUCCESS")
    path, body, headers = notification(fake, payout.out_refund_no)
    assert (await post_notification(client, path, body, headers)).status_code == 204
    events = await payout_event_count(jobs.db)
    refused = callback_routes.REFUSED[("wechatpay", "replay")]
    copy = await post_notification(client, path, body, headers)
    assert copy.status_code == 401 and copy.json() == {
        "code": "FAIL", "message": "Wechatpay-Nonce already seen: a replayed message"}
    assert callback_routes.REFUSED[("wechatpay", "replay")] == refused + 1
    assert await payout_event_count(jobs.db) == events
    assert (await fresh_case(jobs.db, case)).status == S.REFUNDED


async def test_a_notification_not_processed_can_be_resent(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, fake: FakeWeChatPay,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A genuine notification whose processing failed is not remembered: its resend (if
    WeChat Pay sends the same headers) is handled, not refused as a replay."""
    fake.outcome = "PROCESSING"
    _account, case = await wechat_case(client, jobs.db, world, fake)
    await jobs.drain()
    [payout] = await payouts_of(jobs.db, case)
    fake.settle(payout.out_refund_no, "SUCCESS")
    path, body, headers = notification(fake, payout.out_refund_no)
    real = callbacks.apply_notification

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database went away")

    monkeypatch.setattr(callbacks, "apply_notification", broken)
    with pytest.raises(RuntimeError):
        await post_notification(client, path, body, headers)
    assert (await payouts_of(jobs.db, case))[0].status == PayoutStatus.PROCESSING
    monkeypatch.setattr(callbacks, "apply_notification", real)
    assert (await post_notification(client, path, body, headers)).status_code == 204
    assert (await fresh_case(jobs.db, case)).status == S.REFUNDED
