"""Alipay's asynchronous notification at /callbacks/alipay/<account id>: verified (RSA2
over the sorted form, the account's app_id) before anything is read, forged ones
refused and counted, a notify_id handled once (a replay answers "success" and changes
nothing), and the first of callback or poll settles the payout. Real database, Redis,
RQ workers and HTTP; only Alipay is a fake."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from qrefund.graphql_schema.channels import callbacks as callback_routes
from qrefund.jobs import payouts as payout_jobs
from qrefund.platform.channels import alipay as ali
from qrefund.platform.clock import utcnow
from qrefund.platform.payouts.models import Payout, PayoutStatus
from qrefund.platform.vocabulary import RefundCaseStatus
from tests.channels.api import create_wechat
from tests.channels.fake_alipay import FakeAlipay
from tests.channels.flow import payout_event_count
from tests.channels.keys import pair
from tests.channels.test_alipay import APP_ID, create_alipay
from tests.jobs.support import JobHarness, approved_case, fresh_case, payouts_of
from tests.support.world import World
from tests.webhooks.support import owner_update

S = RefundCaseStatus
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


async def _pending(client: httpx.AsyncClient, jobs: JobHarness, world: World,
                   alipay: FakeAlipay) -> tuple[dict[str, Any], Any, Payout]:
    """An Alipay account, and a refund Alipay accepted without moving money yet."""
    account = await create_alipay(client, world.key("a"), alipay)
    alipay.pending = True
    case = await approved_case(jobs.db, world, "10.00")
    await jobs.drain()
    [payout] = await payouts_of(jobs.db, case)
    assert payout.status == PayoutStatus.PROCESSING
    return account, case, payout


async def _post(client: httpx.AsyncClient, path: str, body: bytes) -> httpx.Response:
    return await client.post(path, content=body, headers=FORM)


async def test_the_refund_call_names_the_accounts_notify_url(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, alipay: FakeAlipay) -> None:
    account, _case, payout = await _pending(client, jobs, world, alipay)
    assert account["callbackUrl"].startswith("https://pay.example.com/callbacks/alipay/")
    assert alipay.notify_urls[alipay.key_of(payout.out_refund_no)] == account["callbackUrl"]
    assert alipay.refused == []  # notify_url is covered by the request signature


async def test_a_signed_notification_refunds_the_case_once(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, alipay: FakeAlipay) -> None:
    _account, case, payout = await _pending(client, jobs, world, alipay)
    alipay.settle(payout.out_refund_no)
    path, body = alipay.notification(payout.out_refund_no, app_id=APP_ID)
    answer = await _post(client, path, body)
    assert answer.status_code == 200 and answer.text == "success"
    [settled] = await payouts_of(jobs.db, case)
    assert settled.status == PayoutStatus.SUCCEEDED
    assert settled.provider_refund_id == payout.out_refund_no
    assert (await fresh_case(jobs.db, case)).status == S.REFUNDED
    # A replay (or Alipay's resend) of the same notify_id: "success", nothing changes.
    events = await payout_event_count(jobs.db)
    replayed = callback_routes.REPLAYED["alipay"]
    again = await _post(client, path, body)
    assert again.status_code == 200 and again.text == "success"
    assert callback_routes.REPLAYED["alipay"] == replayed + 1
    assert await payout_event_count(jobs.db) == events


def _forgeries(alipay: FakeAlipay, no: str) -> dict[str, bytes]:
    _path, body = alipay.notification(no, app_id=APP_ID)
    return {
        "tampered": body.replace(b"refund_fee=10.00", b"refund_fee=99.00"),
        "wrong key": alipay.notification(no, app_id=APP_ID, key=pair("forger").private)[1],
        "wrong app_id": alipay.notification(no, app_id="2021000199999999")[1],
        "RSA1": alipay.notification(no, app_id=APP_ID, sign_type="RSA")[1],
        "unsigned": b"&".join(p for p in body.split(b"&") if not p.startswith(b"sign=")),
        "repeated parameter": body + b"&out_biz_no=" + no.encode(),
        "not a form": b"\xff\xfe{}",
        "oversized": body + b"&pad=" + b"x" * 70_000,
    }


async def test_forged_notifications_are_refused_and_change_nothing(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, alipay: FakeAlipay) -> None:
    _account, case, payout = await _pending(client, jobs, world, alipay)
    alipay.settle(payout.out_refund_no)
    path, _ = alipay.notification(payout.out_refund_no, app_id=APP_ID)
    events = await payout_event_count(jobs.db)
    before = sum(n for (channel, _r), n in callback_routes.REFUSED.items() if channel == "alipay")
    forgeries = _forgeries(alipay, payout.out_refund_no)
    for name, body in forgeries.items():
        answer = await _post(client, path, body)
        assert answer.status_code in (400, 413) and answer.text == "fail", name
    after = sum(n for (channel, _r), n in callback_routes.REFUSED.items() if channel == "alipay")
    assert after == before + len(forgeries)
    assert (await payouts_of(jobs.db, case))[0].status == PayoutStatus.PROCESSING
    assert (await fresh_case(jobs.db, case)).status == S.PROCESSING
    assert await payout_event_count(jobs.db) == events


async def test_unknown_and_other_channel_accounts_are_refused(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, alipay: FakeAlipay) -> None:
    _account, case, payout = await _pending(client, jobs, world, alipay)
    alipay.settle(payout.out_refund_no)
    _path, body = alipay.notification(payout.out_refund_no, app_id=APP_ID)
    wechat = await create_wechat(client, world.key("b"))
    for path in ("/callbacks/alipay/nonsense", "/callbacks/alipay/" + wechat["id"]):
        answer = await _post(client, path, body)
        assert answer.status_code == 404 and answer.text == "fail"
    # Another merchant's account with the same app id (a service provider's app): the
    # notification verifies, but no payout of that tenant has this number: nothing moves.
    other = await create_alipay(client, world.key("b"))
    answer = await _post(client, "/callbacks/alipay/" + other["id"], body)
    assert answer.text == "success"
    assert (await payouts_of(jobs.db, case))[0].status == PayoutStatus.PROCESSING


async def test_seen_first_by_polling_then_a_late_notification_is_a_no_op(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, alipay: FakeAlipay,
        owner_engine: Any) -> None:
    _account, case, payout = await _pending(client, jobs, world, alipay)
    alipay.settle(payout.out_refund_no)
    owner_update(owner_engine, Payout, Payout.id == payout.id, next_check_at=utcnow())
    assert await payout_jobs.poll_payout(str(payout.tenant_id), str(payout.id)) == "SUCCEEDED"
    events = await payout_event_count(jobs.db)
    path, body = alipay.notification(payout.out_refund_no, app_id=APP_ID)
    assert (await _post(client, path, body)).text == "success"
    assert await payout_event_count(jobs.db) == events
    assert (await fresh_case(jobs.db, case)).status == S.REFUNDED


async def test_a_notification_that_is_no_proof_of_this_refund_changes_nothing(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, alipay: FakeAlipay) -> None:
    _account, case, payout = await _pending(client, jobs, world, alipay)
    path, _ = alipay.notification(payout.out_refund_no, app_id=APP_ID)
    not_refunds = [
        # A trade's refunded total below this refund's amount cannot include it.
        alipay.notification(payout.out_refund_no, app_id=APP_ID, full=False,
                            refund_fee="3.00")[1],
        # A payment notification (no refund fields).
        alipay.notification(payout.out_refund_no, app_id=APP_ID, full=False, refund_fee="",
                            gmt_refund="", out_biz_no="")[1],
        # A refund number the platform never sent.
        alipay.notification(payout.out_refund_no, app_id=APP_ID, out_biz_no="QRNOSUCH")[1],
    ]
    events = await payout_event_count(jobs.db)
    for body in not_refunds:
        assert (await _post(client, path, body)).text == "success"
    assert (await payouts_of(jobs.db, case))[0].status == PayoutStatus.PROCESSING
    assert await payout_event_count(jobs.db) == events


async def test_a_partial_refund_notification_settles_its_payout(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, alipay: FakeAlipay) -> None:
    _account, case, payout = await _pending(client, jobs, world, alipay)
    path, body = alipay.notification(payout.out_refund_no, app_id=APP_ID, full=False)
    assert (await _post(client, path, body)).text == "success"
    assert (await payouts_of(jobs.db, case))[0].status == PayoutStatus.SUCCEEDED


@pytest.mark.parametrize(("text", "minor"), [
    ("10.00", 1000), ("0.5", 50), ("7", 700), ("1.234", None), ("-1.00", None), ("", None),
    ("1e3", None), ("1.x", None)])
def test_yuan_amounts_parse_exactly(text: str, minor: int | None) -> None:
    assert ali.minor(text) == minor
