"""Service-provider mode end to end: a merchant without an account of its own is refunded
through its agency's WeChat Pay account with its sub_mchid; callbacks to the agency's
account settle the merchant's payout; reconciliation covers it. Real PostgreSQL/SQLite,
Redis, RQ and HTTP; only WeChat Pay is a fake."""

from __future__ import annotations

import httpx
import pytest

from qrefund.graphql_schema import ids
from qrefund.jobs import channels as channel_jobs
from qrefund.jobs import runtime
from qrefund.platform.channels import service as channel_accounts
from qrefund.platform.channels.models import ChannelAccountMerchant
from qrefund.platform.clock import utcnow
from qrefund.platform.ids import new_id
from qrefund.platform.payouts.models import PayoutStatus
from qrefund.platform.vocabulary import RefundCaseStatus
from tests.channels.api import create_wechat
from tests.channels.fake_wechatpay import FakeWeChatPay
from tests.channels.flow import payout_event_count, post_notification, wechat_txn
from tests.channels.service_provider import SP_MCHID, SUB_A, agency_account, link, unlink
from tests.channels.test_wechatpay_flow import APPROVE, START
from tests.jobs.support import JobHarness, approved_case, fresh_case, payouts_of, submitted_case
from tests.support.graphql import ok
from tests.support.raw import unchecked
from tests.support.world import World

S = RefundCaseStatus
PAYOUT = "query($id: ID!) { node(id: $id) { ... on Payout { viaServiceProvider adapter } } }"


async def _linked(client: httpx.AsyncClient, world: World, fake: FakeWeChatPay,
                  sub: str = SUB_A) -> dict[str, object]:
    """The agency's account at the fake, merchant a linked to it with ``sub``."""
    account = await agency_account(client, world, fake)
    fake.bind_sub_merchant(SP_MCHID, sub)
    linked = await link(client, world.key("agency"), account["id"],
                        ids.encode("Tenant", world.merchant_a), subMchid=sub)
    assert linked["userErrors"] == [], linked
    return account


async def test_a_merchant_without_an_account_refunds_through_its_agencys(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, fake: FakeWeChatPay) -> None:
    account = await _linked(client, world, fake)
    assert account["mode"] == "SERVICE_PROVIDER"
    case = await approved_case(jobs.db, world, "30.00", txn=await wechat_txn(jobs.db, world))
    await jobs.drain()
    [payout] = await payouts_of(jobs.db, case)
    assert payout.adapter == "wechatpay" and payout.status == PayoutStatus.SUCCEEDED
    assert (payout.channel_account_tenant_id, payout.channel_link_id is not None) == (
        world.agency_id, True)
    assert (await fresh_case(jobs.db, case)).status == S.REFUNDED
    sent = fake.refunds[payout.out_refund_no]
    assert (sent["by_mchid"], sent["sub_mchid"]) == (SP_MCHID, SUB_A)
    assert sent["notify_url"] == account["callbackUrl"]
    assert fake.refused == []
    # The merchant sees that its agency paid, not the agency's account.
    shown = await ok(client, PAYOUT, {"id": ids.encode("Payout", payout.tenant_id, payout.id)},
                     key=world.key("a"))
    assert shown["node"] == {"viaServiceProvider": True, "adapter": "wechatpay"}


async def test_a_merchants_own_account_comes_first(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, fake: FakeWeChatPay) -> None:
    await _linked(client, world, fake)
    own = await create_wechat(client, world.key("a"), fake)
    case = await approved_case(jobs.db, world, "30.00", txn=await wechat_txn(jobs.db, world))
    await jobs.drain()
    [payout] = await payouts_of(jobs.db, case)
    assert payout.status == PayoutStatus.SUCCEEDED
    assert ids.encode("PaymentChannelAccount", payout.tenant_id,
                      payout.channel_account_id) == own["id"]  # type: ignore[arg-type]
    assert payout.channel_link_id is None and payout.channel_account_tenant_id is None
    assert fake.refunds[payout.out_refund_no]["sub_mchid"] is None


async def test_unlinking_stops_the_fallback(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, fake: FakeWeChatPay,
        monkeypatch: pytest.MonkeyPatch) -> None:
    account = await _linked(client, world, fake)
    fake.outcome = "PROCESSING"
    sent = await approved_case(jobs.db, world, "30.00", txn=await wechat_txn(jobs.db, world))
    await jobs.drain()
    ended = await unlink(client, world.key("agency"), str(account["id"]),
                         ids.encode("Tenant", world.merchant_a))
    assert ended["userErrors"] == [] and ended["link"]["status"] == "UNLINKED"
    # Development: the next refund goes to the sandbox...
    later = await approved_case(jobs.db, world, "10.00", txn=await wechat_txn(jobs.db, world))
    await jobs.drain()
    assert [p.adapter for p in await payouts_of(jobs.db, later)] == ["sandbox"]
    # ... production refuses it, as with no account at all.
    monkeypatch.setattr(channel_accounts, "sandbox_allowed", lambda settings: False)
    held = await submitted_case(jobs.db, world, "12.00", txn=await wechat_txn(jobs.db, world))
    gid = ids.encode("RefundCase", held.tenant_id, held.id)
    key = world.key("a", "REFUND_AGENT")
    await ok(client, START, {"i": {"id": gid}}, key=key)
    refused = (await ok(client, APPROVE, {"i": {"id": gid}}, key=key))["approveRefund"]
    assert [e["code"] for e in refused["userErrors"]] == ["CHANNEL_NOT_CONFIGURED"]
    # The refund sent before the unlink still settles through the agency's account.
    [payout] = await payouts_of(jobs.db, sent)
    fake.settle(payout.out_refund_no, "SUCCESS")
    path, body, headers = fake.notification(payout.out_refund_no, SP_MCHID)
    assert (await post_notification(client, path, body, headers)).status_code == 204
    assert (await fresh_case(jobs.db, sent)).status == S.REFUNDED


async def test_another_agencys_account_is_never_used(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, fake: FakeWeChatPay,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Even a link row planted in another agency's tables, naming merchant a, is ignored:
    the fallback reads the agency recorded as the merchant's parent, nothing else."""
    other = await agency_account(client, world, fake, who="other_agency", mchid="1900000900")
    fake.bind_sub_merchant("1900000900", SUB_A)
    _tenant, other_id = ids.scoped_id(str(other["id"]), "PaymentChannelAccount")
    async with jobs.db.unit_of_work(runtime.system_scope("test")) as uow:
        await unchecked(uow).execute(ChannelAccountMerchant.__table__.insert().values(  # type: ignore[attr-defined]
            tenant_id=world.other_agency_id, id=new_id(), account_id=other_id,
            merchant_id=world.merchant_a, status="ACTIVE", sub_merchant_ref=SUB_A,
            created_by="planted", created_at=utcnow()))
    # A foreign merchant cannot be linked through the API either.
    refused = await link(client, world.key("other_agency"), str(other["id"]),
                         ids.encode("Tenant", world.merchant_a), subMchid=SUB_A)
    assert [e["code"] for e in refused["userErrors"]] == ["NOT_FOUND"]
    case = await approved_case(jobs.db, world, "30.00", txn=await wechat_txn(jobs.db, world))
    await jobs.drain()
    assert [p.adapter for p in await payouts_of(jobs.db, case)] == ["sandbox"]
    assert fake.refunds == {}
    monkeypatch.setattr(channel_accounts, "sandbox_allowed", lambda settings: False)
    held = await submitted_case(jobs.db, world, "12.00", txn=await wechat_txn(jobs.db, world))
    gid = ids.encode("RefundCase", held.tenant_id, held.id)
    key = world.key("a", "REFUND_AGENT")
    await ok(client, START, {"i": {"id": gid}}, key=key)
    refused = (await ok(client, APPROVE, {"i": {"id": gid}}, key=key))["approveRefund"]
    assert [e["code"] for e in refused["userErrors"]] == ["CHANNEL_NOT_CONFIGURED"]


async def test_a_callback_to_the_agencys_account_settles_the_merchants_payout(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, fake: FakeWeChatPay) -> None:
    await _linked(client, world, fake)
    fake.outcome = "PROCESSING"
    case = await approved_case(jobs.db, world, "30.00", txn=await wechat_txn(jobs.db, world))
    await jobs.drain()
    [payout] = await payouts_of(jobs.db, case)
    assert payout.status == PayoutStatus.PROCESSING
    fake.settle(payout.out_refund_no, "SUCCESS")
    # Signed right but naming another sub_mchid: acknowledged, changes nothing.
    fake.refunds[payout.out_refund_no]["sub_mchid"] = "1900000399"
    events = await payout_event_count(jobs.db)
    stray = fake.notification(payout.out_refund_no, SP_MCHID)
    assert (await post_notification(client, *stray)).status_code == 204
    assert await payout_event_count(jobs.db) == events
    fake.refunds[payout.out_refund_no]["sub_mchid"] = SUB_A
    path, body, headers = fake.notification(payout.out_refund_no, SP_MCHID)
    answer = await post_notification(client, path, body, headers)
    assert answer.status_code == 204
    [settled] = await payouts_of(jobs.db, case)
    assert settled.status == PayoutStatus.SUCCEEDED
    assert (await fresh_case(jobs.db, case)).status == S.REFUNDED
    again = await post_notification(client, path, body, headers)  # a replay
    assert again.status_code == 401 and again.json()["code"] == "FAIL"


async def test_reconciliation_covers_the_linked_merchants_payouts(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, fake: FakeWeChatPay) -> None:
    await _linked(client, world, fake)
    case = await approved_case(jobs.db, world, "30.00", txn=await wechat_txn(jobs.db, world))
    await jobs.drain()
    [payout] = await payouts_of(jobs.db, case)
    assert payout.status == PayoutStatus.SUCCEEDED
    assert await channel_jobs.reconcile_payouts() == 0  # asked with the sub_mchid: agree
    fake.settle(payout.out_refund_no, "CLOSED")
    assert await channel_jobs.reconcile_payouts() == 1
    [flagged] = await payouts_of(jobs.db, case)
    assert flagged.discrepancy and "did not move" in flagged.discrepancy


async def test_in_production_a_link_is_a_way_to_pay(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, fake: FakeWeChatPay,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(channel_accounts, "sandbox_allowed", lambda settings: False)
    await _linked(client, world, fake)
    held = await submitted_case(jobs.db, world, "12.00", txn=await wechat_txn(jobs.db, world))
    gid = ids.encode("RefundCase", held.tenant_id, held.id)
    key = world.key("a", "REFUND_AGENT")
    await ok(client, START, {"i": {"id": gid}}, key=key)
    approved = (await ok(client, APPROVE, {"i": {"id": gid}}, key=key))["approveRefund"]
    assert approved["userErrors"] == [], approved
    await jobs.drain()
    [payout] = await payouts_of(jobs.db, held)
    assert payout.channel_link_id is not None and payout.status == PayoutStatus.SUCCEEDED
