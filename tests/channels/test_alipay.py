"""Alipay end to end against a protocol-faithful fake gateway, and the RSA2 rules on
both sides. Real database, Redis, RQ workers and HTTP; only Alipay is a fake."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from qrefund.jobs import payouts as payout_jobs
from qrefund.platform.channels import alipay as ali
from qrefund.platform.channels.alipay import AlipayConfig
from qrefund.platform.channels.wechatpay import SignatureRejected
from qrefund.platform.clock import utcnow
from qrefund.platform.payouts import service as payouts
from qrefund.platform.payouts.models import Payout, PayoutStatus
from qrefund.platform.payouts.service import RetryPayout
from qrefund.platform.vocabulary import RefundCaseStatus, RefundMethod
from qrefund.tenants.auth import authenticate
from tests.channels.api import CREATE, TEST, call, codes
from tests.channels.fake_alipay import FakeAlipay
from tests.channels.keys import pair
from tests.jobs.support import JobHarness, approved_case, fresh_case, payouts_of
from tests.support.world import World
from tests.webhooks.support import owner_update

S = RefundCaseStatus
APP_ID = "2021000100000001"
TOKEN = "202611BB8c2f0e2a4f0d4c5b9a1e0a3b9e1d5X01"


def alipay_input(fake: FakeAlipay | None = None, *, token: str | None = None,
                 **override: Any) -> dict[str, Any]:
    keys = pair("alipay-app")
    if fake is not None:
        fake.add_app(APP_ID, keys, token)
    values: dict[str, Any] = {"appId": APP_ID, "appPrivateKey": keys.private_pem,
                              "alipayPublicKey": pair("alipay-platform").public_pem}
    if token:
        values["appAuthToken"] = token
    return {**values, **override}


async def create_alipay(client: httpx.AsyncClient, key: str, fake: FakeAlipay | None = None,
                        token: str | None = None) -> dict[str, Any]:
    payload = await call(client, CREATE, key, channel="ALIPAY",
                         alipay=alipay_input(fake, token=token))
    assert payload["userErrors"] == [], payload
    account: dict[str, Any] = payload["paymentChannelAccount"]
    return account


@pytest.mark.parametrize(("field", "value", "code"), [
    ("appPrivateKey", "nope", "INVALID_CREDENTIAL"),
    ("alipayPublicKey", pair("alipay-app").private_pem, "INVALID_CREDENTIAL"),
    ("appId", "app-one", "INVALID_CREDENTIAL"),
    ("appAuthToken", "bad token!", "INVALID_CREDENTIAL"),
])
async def test_alipay_credentials_are_validated(client: httpx.AsyncClient, world: World,
                                                field: str, value: str, code: str) -> None:
    payload = await call(client, CREATE, world.key("a"), channel="ALIPAY",
                         alipay=alipay_input(**{field: value}))
    assert codes(payload) == [code]
    assert payload["userErrors"][0]["field"] == ["alipay", field]


async def test_a_refund_is_paid_through_the_merchants_app(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, alipay: FakeAlipay) -> None:
    account = await create_alipay(client, world.key("a"), alipay)
    assert account["mode"] == "DIRECT" and account["merchantRef"] == APP_ID
    case = await approved_case(jobs.db, world, "10.00")  # an Alipay payment
    await jobs.drain()
    [payout] = await payouts_of(jobs.db, case)
    assert payout.adapter == "alipay" and payout.status == PayoutStatus.SUCCEEDED
    assert [k[1] for k in alipay.refunds] == [payout.out_refund_no]
    assert list(alipay.refunds.values()) == ["10.00"]
    assert (await fresh_case(jobs.db, case)).status == S.REFUNDED
    assert alipay.refused == []


async def test_a_service_provider_app_sends_the_merchants_app_auth_token(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, alipay: FakeAlipay) -> None:
    account = await create_alipay(client, world.key("a"), alipay, token=TOKEN)
    assert account["mode"] == "SERVICE_PROVIDER"
    case = await approved_case(jobs.db, world, "10.00")
    await jobs.drain()
    assert (await payouts_of(jobs.db, case))[0].status == PayoutStatus.SUCCEEDED
    assert alipay.refused == []


async def test_insufficient_balance_is_retried_with_the_same_number(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, alipay: FakeAlipay) -> None:
    await create_alipay(client, world.key("a"), alipay)
    alipay.errors = ["ACQ.SELLER_BALANCE_NOT_ENOUGH", "ACQ.SYSTEM_ERROR"]
    case = await approved_case(jobs.db, world, "10.00")
    await jobs.drain()
    [payout] = await payouts_of(jobs.db, case)
    assert payout.status == PayoutStatus.SUCCEEDED and payout.channel_calls == 3
    assert len(alipay.refunds) == 1


async def test_an_abnormal_buyer_account_needs_a_bank_transfer(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, alipay: FakeAlipay) -> None:
    await create_alipay(client, world.key("a"), alipay)
    alipay.errors = ["ACQ.BUYER_ERROR"]
    case = await approved_case(jobs.db, world, "10.00")
    await jobs.drain()
    [failed] = await payouts_of(jobs.db, case)
    assert failed.status == PayoutStatus.FAILED and failed.failure_code == "ACQ.BUYER_ERROR"
    assert (await fresh_case(jobs.db, case)).status == S.PAYOUT_FAILED
    scope = await authenticate(jobs.db, world.key("a", "REFUND_AGENT"))
    async with jobs.db.unit_of_work(scope) as uow:
        await payouts.retry(uow, RetryPayout(case.tenant_id, case.id,
                                             method=RefundMethod.BANK_TRANSFER,
                                             bank_destination="6222020200112233"))
    await jobs.drain()
    assert [p.adapter for p in await payouts_of(jobs.db, case)] == ["alipay", "sandbox"]
    assert (await fresh_case(jobs.db, case)).status == S.REFUNDED
    assert alipay.refunds == {}


async def test_a_crash_after_the_call_pays_once_and_the_query_settles_it(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, alipay: FakeAlipay,
        monkeypatch: pytest.MonkeyPatch, owner_engine: Any) -> None:
    await create_alipay(client, world.key("a"), alipay)
    real = payouts.apply_result
    crashed: list[bool] = []

    async def crash_once(*args: Any, **kwargs: Any) -> Any:
        if not crashed:
            crashed.append(True)
            raise RuntimeError("worker died before writing the answer")
        return await real(*args, **kwargs)

    monkeypatch.setattr(payout_jobs.payouts, "apply_result", crash_once)
    case = await approved_case(jobs.db, world, "10.00")
    await jobs.drain()
    [payout] = await payouts_of(jobs.db, case)
    # The repeat answers fund_change N (no money moved this time): not yet final.
    assert payout.status == PayoutStatus.PROCESSING and len(alipay.refunds) == 1
    owner_update(owner_engine, Payout, Payout.id == payout.id, next_check_at=utcnow())
    assert await payout_jobs.poll_payout(str(payout.tenant_id), str(payout.id)) == "SUCCEEDED"
    assert (await fresh_case(jobs.db, case)).status == S.REFUNDED
    assert alipay.calls.count("alipay.trade.refund") == 2 and len(alipay.refunds) == 1


async def test_a_tampered_answer_is_not_believed(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, alipay: FakeAlipay) -> None:
    await create_alipay(client, world.key("a"), alipay)
    alipay.tamper_responses = True
    case = await approved_case(jobs.db, world, "10.00")
    await jobs.drain()
    [payout] = await payouts_of(jobs.db, case)
    assert payout.status == PayoutStatus.PENDING
    alipay.tamper_responses = False
    assert await payout_jobs.execute_payout(str(payout.tenant_id), str(payout.id)) in (
        "SUCCEEDED", "PROCESSING")
    assert len(alipay.refunds) == 1


async def test_the_test_mutation_checks_both_signatures(
        client: httpx.AsyncClient, world: World, alipay: FakeAlipay) -> None:
    account = await create_alipay(client, world.key("a"), alipay)
    tested = (await call(client, TEST, world.key("a"), id=account["id"]))[
        "paymentChannelAccount"]
    assert tested["lastTestOk"] is True, tested
    alipay.apps.clear()
    alipay.add_app(APP_ID, pair("someone-else"))
    failed = (await call(client, TEST, world.key("a"), id=account["id"]))[
        "paymentChannelAccount"]
    assert failed["lastTestOk"] is False and "40002" in failed["lastTestMessage"]


def _config(fake: FakeAlipay, token: str | None = None) -> AlipayConfig:
    fake.add_app(APP_ID, pair("alipay-app"), token)
    return AlipayConfig(APP_ID, pair("alipay-app").private_pem,
                        pair("alipay-platform").public_pem, app_auth_token=token,
                        gateway=fake.url)


def test_the_fake_refuses_what_alipay_refuses(alipay: FakeAlipay) -> None:
    config = _config(alipay, TOKEN)
    biz = {"out_request_no": "QR1", "trade_no": "T1"}
    assert alipay.check(ali.signed_params(config, ali.REFUND_QUERY, biz)) is None
    stale = ali.signed_params(config, ali.REFUND_QUERY, biz,
                              now=datetime.now(ali.CHINA) - timedelta(minutes=30))
    assert alipay.check(stale) == "stale timestamp"
    tampered = {**ali.signed_params(config, ali.REFUND_QUERY, biz), "biz_content": "{}"}
    assert alipay.check(tampered) == "bad signature"
    no_token = ali.signed_params(AlipayConfig(APP_ID, config.app_private_key,
                                              config.alipay_public_key), ali.REFUND_QUERY, biz)
    assert alipay.check(no_token) == "wrong app_auth_token"


def test_the_platform_verifies_the_exact_signed_text(alipay: FakeAlipay) -> None:
    config = _config(alipay)
    body = alipay.render(ali.REFUND, {"code": "10000", "fund_change": "Y"}).decode()
    assert ali.verified_response(config, ali.REFUND, body)["fund_change"] == "Y"
    forged = body.replace('"fund_change":"Y"', '"fund_change":"N"')
    for bad in (forged, body.replace('"sign":"', '"sign":"AAAA'), "{}", "not json"):
        with pytest.raises(SignatureRejected):
            ali.verified_response(config, ali.REFUND, bad)
