"""WeChat Pay end to end: approval -> payout job -> signed refund call to the fake ->
PROCESSING -> signed, encrypted notification -> REFUNDED; and every way it can go
wrong. Real PostgreSQL/SQLite, Redis, RQ workers and HTTP; only WeChat Pay is a fake."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from qrefund.graphql_schema import ids
from qrefund.jobs import payouts as payout_jobs
from qrefund.platform.channels import service as channel_accounts
from qrefund.platform.clock import utcnow
from qrefund.platform.payouts import service as payouts
from qrefund.platform.payouts.models import Payout, PayoutStatus
from qrefund.platform.payouts.service import RetryPayout
from qrefund.platform.vocabulary import RefundCaseStatus, RefundMethod
from qrefund.tenants.auth import authenticate
from tests.channels.api import create_wechat
from tests.channels.fake_wechatpay import FakeWeChatPay
from tests.channels.flow import (
    notification,
    payout_event_count,
    post_notification,
    wechat_case,
    wechat_txn,
)
from tests.channels.keys import pair
from tests.jobs.support import (
    JobHarness,
    approved_case,
    fresh_case,
    payouts_of,
    submitted_case,
)
from tests.support.graphql import ok
from tests.support.world import World
from tests.webhooks.support import owner_update

S = RefundCaseStatus


async def test_a_refund_succeeds_at_once(client: httpx.AsyncClient, jobs: JobHarness,
                                         world: World, fake: FakeWeChatPay) -> None:
    account, case = await wechat_case(client, jobs.db, world, fake, "30.00")
    await jobs.drain()
    [payout] = await payouts_of(jobs.db, case)
    assert payout.adapter == "wechatpay" and payout.status == PayoutStatus.SUCCEEDED
    assert (await fresh_case(jobs.db, case)).status == S.REFUNDED
    sent = fake.refunds[payout.out_refund_no]
    assert sent["amount"] == {"refund": 3000, "total": 8800, "currency": "CNY",
                              "payer_refund": 3000}
    assert sent["notify_url"] == account["callbackUrl"]
    assert payout.provider_refund_id == sent["refund_id"]
    assert fake.refused == []


async def test_processing_then_a_signed_notification_refunds_the_case(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, fake: FakeWeChatPay) -> None:
    fake.outcome = "PROCESSING"
    _account, case = await wechat_case(client, jobs.db, world, fake)
    await jobs.drain()
    [payout] = await payouts_of(jobs.db, case)
    assert payout.status == PayoutStatus.PROCESSING
    assert (await fresh_case(jobs.db, case)).status == S.PROCESSING
    fake.settle(payout.out_refund_no, "SUCCESS")
    path, body, headers = notification(fake, payout.out_refund_no)
    answer = await post_notification(client, path, body, headers)
    assert answer.status_code == 204 and answer.content == b""
    [payout] = await payouts_of(jobs.db, case)
    assert payout.status == PayoutStatus.SUCCEEDED
    assert (await fresh_case(jobs.db, case)).status == S.REFUNDED
    # A byte-for-byte copy (same timestamp and nonce) is a replay: refused, no change.
    events = await payout_event_count(jobs.db)
    again = await post_notification(client, path, body, headers)
    assert again.status_code == 401 and again.json()["code"] == "FAIL"
    # WeChat Pay resends (signed anew) until it is answered: acknowledged, no change.
    resent = notification(fake, payout.out_refund_no)  # a resend: new nonce and signature
    assert (await post_notification(client, *resent)).status_code == 204
    assert await payout_event_count(jobs.db) == events


def _tampered(fake: FakeWeChatPay, no: str) -> list[tuple[str, bytes, dict[str, str]]]:
    path, body, headers = notification(fake, no)
    forged_body = body.replace(b'"refund"', b'"refund" ', 1)
    stale = notification(fake, no, timestamp=int(utcnow().timestamp()) - 3600)
    wrong_serial = notification(fake, no, serial="PUB_KEY_ID_SOMEONE_ELSE")
    wrong_key = notification(fake, no, key=pair("forger").private)
    unsigned = (path, body, {})
    return [(path, forged_body, headers), stale, wrong_serial, wrong_key, unsigned]


async def test_forged_notifications_are_refused_and_change_nothing(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, fake: FakeWeChatPay) -> None:
    fake.outcome = "PROCESSING"
    _account, case = await wechat_case(client, jobs.db, world, fake)
    await jobs.drain()
    [payout] = await payouts_of(jobs.db, case)
    fake.settle(payout.out_refund_no, "SUCCESS")
    events = await payout_event_count(jobs.db)
    for path, body, headers in _tampered(fake, payout.out_refund_no):
        answer = await post_notification(client, path, body, headers)
        assert answer.status_code == 401, answer.text
        assert answer.json()["code"] == "FAIL"
    unknown = await client.post("/callbacks/wechatpay/nonsense", content=b"{}")
    assert unknown.status_code == 404
    [still] = await payouts_of(jobs.db, case)
    assert still.status == PayoutStatus.PROCESSING
    assert (await fresh_case(jobs.db, case)).status == S.PROCESSING
    assert await payout_event_count(jobs.db) == events


async def test_another_accounts_url_cannot_settle_a_payout(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, fake: FakeWeChatPay) -> None:
    """A notification signed right but posted to another merchant's account URL: that
    account's keys do not open it, so it is refused."""
    fake.outcome = "PROCESSING"
    _account, case = await wechat_case(client, jobs.db, world, fake)
    other = await create_wechat(client, world.key("b"))
    await jobs.drain()
    [payout] = await payouts_of(jobs.db, case)
    fake.settle(payout.out_refund_no, "SUCCESS")
    _path, body, headers = notification(fake, payout.out_refund_no)
    other_path = "/callbacks/wechatpay/" + other["id"]
    answer = await post_notification(client, other_path, body, headers)
    assert answer.status_code == 401
    assert (await payouts_of(jobs.db, case))[0].status == PayoutStatus.PROCESSING


async def test_seen_first_by_polling_then_a_late_notification_is_a_no_op(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, fake: FakeWeChatPay,
        owner_engine: Any) -> None:
    fake.outcome = "PROCESSING"
    _account, case = await wechat_case(client, jobs.db, world, fake)
    await jobs.drain()
    [payout] = await payouts_of(jobs.db, case)
    fake.settle(payout.out_refund_no, "SUCCESS")
    owner_update(owner_engine, Payout, Payout.id == payout.id, next_check_at=utcnow())
    assert await payout_jobs.poll_payout(str(payout.tenant_id), str(payout.id)) == "SUCCEEDED"
    assert (await fresh_case(jobs.db, case)).status == S.REFUNDED
    events = await payout_event_count(jobs.db)
    path, body, headers = notification(fake, payout.out_refund_no)
    assert (await post_notification(client, path, body, headers)).status_code == 204
    assert await payout_event_count(jobs.db) == events


async def test_not_enough_balance_is_retried_with_the_same_number(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, fake: FakeWeChatPay) -> None:
    fake.errors = ["NOT_ENOUGH", "FREQUENCY_LIMITED"]
    _account, case = await wechat_case(client, jobs.db, world, fake)
    await jobs.drain()
    [payout] = await payouts_of(jobs.db, case)
    assert payout.status == PayoutStatus.SUCCEEDED
    assert payout.channel_calls == 3
    assert list(fake.refunds) == [payout.out_refund_no]
    assert (await fresh_case(jobs.db, case)).status == S.REFUNDED


async def test_an_abnormal_payer_account_needs_a_bank_transfer(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, fake: FakeWeChatPay) -> None:
    fake.errors = ["USER_ACCOUNT_ABNORMAL"]
    _account, case = await wechat_case(client, jobs.db, world, fake)
    await jobs.drain()
    [failed] = await payouts_of(jobs.db, case)
    assert failed.status == PayoutStatus.FAILED
    assert failed.failure_code == "USER_ACCOUNT_ABNORMAL"
    assert "BANK_TRANSFER" in (failed.failure_reason or "")
    assert (await fresh_case(jobs.db, case)).status == S.PAYOUT_FAILED
    scope = await authenticate(jobs.db, world.key("a", "REFUND_AGENT"))
    async with jobs.db.unit_of_work(scope) as uow:
        await payouts.retry(uow, RetryPayout(case.tenant_id, case.id,
                                             method=RefundMethod.BANK_TRANSFER,
                                             bank_destination="6222020200112233"))
    await jobs.drain()
    first, second = await payouts_of(jobs.db, case)
    assert first.status == PayoutStatus.FAILED
    # A bank transfer leaves WeChat Pay: routed to the transfer channel (the sandbox here).
    assert second.adapter == "sandbox" and second.channel_account_id is None
    assert second.status == PayoutStatus.SUCCEEDED
    assert (await fresh_case(jobs.db, case)).status == S.REFUNDED
    assert fake.refunds == {}


async def test_a_crash_after_the_provider_call_pays_once(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, fake: FakeWeChatPay,
        monkeypatch: pytest.MonkeyPatch) -> None:
    real = payouts.apply_result
    crashed: list[bool] = []

    async def crash_once(*args: Any, **kwargs: Any) -> Any:
        if not crashed:
            crashed.append(True)
            raise RuntimeError("worker died before writing the answer")
        return await real(*args, **kwargs)

    monkeypatch.setattr(payout_jobs.payouts, "apply_result", crash_once)
    _account, case = await wechat_case(client, jobs.db, world, fake)
    await jobs.drain()
    [payout] = await payouts_of(jobs.db, case)
    assert crashed and payout.status == PayoutStatus.SUCCEEDED
    assert payout.channel_calls == 2
    posts = [c for c in fake.calls if c[0] == "POST"]
    assert posts == [("POST", "/v3/refund/domestic/refunds")] * 2
    assert list(fake.refunds) == [payout.out_refund_no]


async def test_a_duplicated_payout_job_makes_one_refund(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, fake: FakeWeChatPay) -> None:
    _account, case = await wechat_case(client, jobs.db, world, fake)
    await jobs.drain()
    [payout] = await payouts_of(jobs.db, case)
    again = await payout_jobs.execute_payout(str(payout.tenant_id), str(payout.id))
    assert again == "skipped"
    assert len(fake.refunds) == 1


async def test_a_tampered_response_is_not_believed(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, fake: FakeWeChatPay) -> None:
    fake.tamper_responses = True  # the fake flips SUCCESS to CLOSED after signing
    _account, case = await wechat_case(client, jobs.db, world, fake)
    await jobs.drain()
    [payout] = await payouts_of(jobs.db, case)
    assert payout.status == PayoutStatus.PENDING  # never FAILED on a forged CLOSED
    assert (await fresh_case(jobs.db, case)).status == S.PROCESSING
    fake.tamper_responses = False
    assert await payout_jobs.execute_payout(str(payout.tenant_id), str(payout.id)) == "SUCCEEDED"
    assert len(fake.refunds) == 1


async def test_without_an_account_development_uses_the_sandbox(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, fake: FakeWeChatPay) -> None:
    txn = await wechat_txn(jobs.db, world)
    case = await approved_case(jobs.db, world, "12.00", txn=txn)
    await jobs.drain()
    [payout] = await payouts_of(jobs.db, case)
    assert payout.adapter == "sandbox" and payout.status == PayoutStatus.SUCCEEDED
    assert fake.calls == []


APPROVE = """mutation($i: ApproveRefundInput!) { approveRefund(input: $i) {
  refundCase { status } userErrors { code field message } } }"""
START = """mutation($i: StartRefundReviewInput!) { startRefundReview(input: $i) {
  refundCase { status } userErrors { code } } }"""


async def test_in_production_a_missing_account_refuses_the_approval(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, fake: FakeWeChatPay,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(channel_accounts, "sandbox_allowed", lambda settings: False)
    txn = await wechat_txn(jobs.db, world)
    case = await submitted_case(jobs.db, world, "12.00", txn=txn)
    key = world.key("a", "REFUND_AGENT")
    gid = ids.encode("RefundCase", case.tenant_id, case.id)
    await ok(client, START, {"i": {"id": gid}}, key=key)
    refused = (await ok(client, APPROVE, {"i": {"id": gid}}, key=key))["approveRefund"]
    assert [e["code"] for e in refused["userErrors"]] == ["CHANNEL_NOT_CONFIGURED"]
    assert (await fresh_case(jobs.db, case)).status == S.UNDER_REVIEW
    await create_wechat(client, world.key("a"), fake)
    approved = (await ok(client, APPROVE, {"i": {"id": gid}}, key=key))["approveRefund"]
    assert approved["userErrors"] == [] and approved["refundCase"]["status"] == "APPROVED"
    await jobs.drain()
    [payout] = await payouts_of(jobs.db, case)
    assert payout.adapter == "wechatpay" and payout.status == PayoutStatus.SUCCEEDED


async def test_a_duplicate_approval_makes_one_provider_refund(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, fake: FakeWeChatPay) -> None:
    await create_wechat(client, world.key("a"), fake)
    txn = await wechat_txn(jobs.db, world)
    case = await submitted_case(jobs.db, world, "12.00", txn=txn)
    key = world.key("a", "REFUND_AGENT")
    gid = ids.encode("RefundCase", case.tenant_id, case.id)
    await ok(client, START, {"i": {"id": gid}}, key=key)
    first = (await ok(client, APPROVE, {"i": {"id": gid, "idempotencyKey": "ap-1"}},
                      key=key))["approveRefund"]
    replay = (await ok(client, APPROVE, {"i": {"id": gid, "idempotencyKey": "ap-1"}},
                       key=key))["approveRefund"]
    again = (await ok(client, APPROVE, {"i": {"id": gid}}, key=key))["approveRefund"]
    assert first["userErrors"] == [] and replay["userErrors"] == []
    assert [e["code"] for e in again["userErrors"]] == ["INVALID_STATE"]
    await jobs.drain()
    [payout] = await payouts_of(jobs.db, case)
    assert payout.status == PayoutStatus.SUCCEEDED
    assert len(fake.refunds) == 1
    assert [c for c in fake.calls if c[0] == "POST"] == [("POST", "/v3/refund/domestic/refunds")]


async def test_in_production_auto_approval_waits_for_an_account(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, fake: FakeWeChatPay,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.refunds.api import publish

    monkeypatch.setattr(channel_accounts, "sandbox_allowed", lambda settings: False)
    published = await publish(client, world.key("a"), autoApproveMaxAmount="50.00",
                              autoApproveReasons=["QUALITY_ISSUE"])
    assert published["userErrors"] == []
    held = await submitted_case(jobs.db, world, "12.00", txn=await wechat_txn(jobs.db, world))
    assert held.status == S.SUBMITTED  # left for a person: the money has no way back yet
    await create_wechat(client, world.key("a"), fake)
    auto = await submitted_case(jobs.db, world, "12.00", txn=await wechat_txn(jobs.db, world))
    assert auto.status == S.APPROVED
    await jobs.drain()
    assert (await payouts_of(jobs.db, auto))[0].adapter == "wechatpay"
