"""The daily reconciliation: each recent payout through a channel account is asked about
at its provider; a contradiction is flagged once, emitted and listed."""

from __future__ import annotations

from typing import Any

import httpx

from qrefund.graphql_schema import ids
from qrefund.jobs import channels as channel_jobs
from qrefund.jobs import payouts as payout_jobs
from qrefund.platform.clock import utcnow
from qrefund.platform.payouts.models import Payout, PayoutStatus
from tests.channels.fake_wechatpay import FakeWeChatPay
from tests.channels.flow import wechat_case, wechat_txn
from tests.jobs.support import JobHarness, approved_case, event_count, payouts_of
from tests.support.graphql import gql, ok
from tests.support.world import World
from tests.webhooks.support import owner_update

LIST = """query($m: [ID!]) { payoutDiscrepancies(merchantIds: $m) {
  id status discrepancy reconciledAt outRefundNo } }"""


async def test_a_refund_the_provider_does_not_know_is_a_discrepancy(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, fake: FakeWeChatPay) -> None:
    _account, case = await wechat_case(client, jobs.db, world, fake)
    await jobs.drain()
    [payout] = await payouts_of(jobs.db, case)
    assert payout.status == PayoutStatus.SUCCEEDED
    assert await channel_jobs.reconcile_payouts() == 0  # they agree
    del fake.refunds[payout.out_refund_no]
    assert await channel_jobs.reconcile_payouts() == 1
    [flagged] = await payouts_of(jobs.db, case)
    assert flagged.discrepancy and "did not move" in flagged.discrepancy
    assert await event_count(jobs.db, "payout.discrepancy", payout.id) == 1
    listed = await ok(client, LIST, key=world.key("a", "REFUND_AGENT"))
    assert [p["outRefundNo"] for p in listed["payoutDiscrepancies"]] == [payout.out_refund_no]
    # Found again the next day: flagged once, emitted once.
    assert await channel_jobs.reconcile_payouts() == 0
    assert await event_count(jobs.db, "payout.discrepancy", payout.id) == 1
    assert (await ok(client, LIST, key=world.key("b", "REFUND_AGENT")))[
        "payoutDiscrepancies"] == []


async def test_money_that_left_after_a_failure_is_a_discrepancy(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, fake: FakeWeChatPay,
        owner_engine: Any) -> None:
    fake.outcome = "PROCESSING"
    _account, case = await wechat_case(client, jobs.db, world, fake)
    await jobs.drain()
    [payout] = await payouts_of(jobs.db, case)
    fake.settle(payout.out_refund_no, "CLOSED")
    owner_update(owner_engine, Payout, Payout.id == payout.id, next_check_at=utcnow())
    assert await payout_jobs.poll_payout(str(payout.tenant_id), str(payout.id)) == "FAILED"
    fake.settle(payout.out_refund_no, "SUCCESS")
    assert await channel_jobs.reconcile_payouts() == 1
    [flagged] = await payouts_of(jobs.db, case)
    assert flagged.status == PayoutStatus.FAILED
    assert flagged.discrepancy and "money may have left" in flagged.discrepancy


async def test_a_live_payout_is_settled_like_a_poll(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, fake: FakeWeChatPay) -> None:
    fake.outcome = "PROCESSING"
    _account, case = await wechat_case(client, jobs.db, world, fake)
    await jobs.drain()
    [payout] = await payouts_of(jobs.db, case)
    fake.settle(payout.out_refund_no, "SUCCESS")
    assert await channel_jobs.reconcile_payouts() == 0
    [settled] = await payouts_of(jobs.db, case)
    assert settled.status == PayoutStatus.SUCCEEDED and settled.discrepancy is None
    assert settled.reconciled_at is not None


async def test_sandbox_payouts_are_not_reconciled(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, fake: FakeWeChatPay) -> None:
    case = await approved_case(jobs.db, world, "12.00", txn=await wechat_txn(jobs.db, world))
    await jobs.drain()
    assert await channel_jobs.reconcile_payouts() == 0
    assert (await payouts_of(jobs.db, case))[0].reconciled_at is None
    assert fake.calls == []


async def test_listing_another_tenants_discrepancies_is_not_found(
        client: httpx.AsyncClient, world: World) -> None:
    body = await gql(client, LIST, {"m": [ids.encode("Tenant", world.merchant_b)]},
                     key=world.key("a", "REFUND_AGENT"))
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    viewer = await gql(client, LIST, {}, key=world.key("a", "VIEWER"))
    assert viewer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
