"""Linking an agency's merchants to its service-provider account: refusals first (nothing
written), then links, the audit trail (names, never the token), Alipay's app auth
token, and the bounded read beyond a merchant's scope (RLS holds around it)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from qrefund.graphql_schema import ids
from qrefund.jobs import runtime
from qrefund.platform.channels import service as channel_accounts
from qrefund.platform.channels.models import ChannelAccountMerchant, PaymentChannelAccount
from qrefund.platform.outbox.models import DomainEvent
from qrefund.platform.payouts.models import PayoutStatus
from tests.channels.api import CREATE, call, codes, create_wechat, wechat_input
from tests.channels.fake_alipay import FakeAlipay
from tests.channels.service_provider import SUB_A, SUB_B, agency_account, link, unlink
from tests.channels.test_alipay import APP_ID, TOKEN, alipay_input
from tests.channels.test_alipay_callback import FORM
from tests.jobs.support import JobHarness, approved_case, fresh_case, payouts_of
from tests.support.graphql import ok
from tests.support.raw import unchecked
from tests.support.world import World
from tests.webhooks.support import owner_count

ACCOUNT = """query($id: ID!) { node(id: $id) { ... on PaymentChannelAccount {
  mode linkedMerchants { merchantId status subMerchantRef hasAppAuthToken }
  auditTrail { action fields } } } }"""


def _gid(tenant_id: Any) -> str:
    return str(ids.encode("Tenant", tenant_id))


@pytest.mark.parametrize(("who", "merchant", "refs", "code", "field"), [
    ("a:VIEWER", "a", {"subMchid": SUB_A}, "FORBIDDEN", None),
    ("a", "a", {"subMchid": SUB_A}, "NOT_FOUND", None),  # the agency's account is not a's
    ("agency", "c", {"subMchid": SUB_A}, "NOT_FOUND", ["merchantId"]),  # not its merchant
    ("agency", "agency", {"subMchid": SUB_A}, "NOT_FOUND", ["merchantId"]),  # not a merchant
    ("agency", "a", {"subMchid": "12ab"}, "INVALID_CREDENTIAL", ["subMchid"]),
    ("agency", "a", {"subMchid": "1" * 200}, "TOO_LONG", ["subMchid"]),
    ("agency", "a", {}, "REQUIRED", ["subMchid"]),
    ("agency", "a", {"subMchid": "1900000200"}, "INVALID_CREDENTIAL", ["subMchid"]),
    ("agency", "a", {"subMchid": SUB_A, "appAuthToken": TOKEN}, "INVALID_CREDENTIAL",
     ["appAuthToken"]),
])
async def test_a_link_is_refused_and_nothing_is_written(
        client: httpx.AsyncClient, world: World, owner_engine: Any, who: str, merchant: str,
        refs: dict[str, str], code: str, field: list[str] | None) -> None:
    account = await agency_account(client, world, None)
    before = owner_count(owner_engine, DomainEvent)
    name, _, role = who.partition(":")
    target = {"a": world.merchant_a, "c": world.merchant_c, "agency": world.agency_id}[merchant]
    payload = await link(client, world.key(name, role or "ADMIN"), str(account["id"]),
                         _gid(target), **refs)
    assert codes(payload) == [code] and payload["link"] is None, payload
    if field is not None:
        assert payload["userErrors"][0]["field"] == field
    assert owner_count(owner_engine, ChannelAccountMerchant) == 0
    assert owner_count(owner_engine, DomainEvent) == before


async def test_only_an_agencys_own_account_links_and_a_link_is_not_doubled(
        client: httpx.AsyncClient, world: World, owner_engine: Any) -> None:
    own = await create_wechat(client, world.key("a"))  # merchant a's own account
    refused = await link(client, world.key("agency"), str(own["id"]), _gid(world.merchant_a),
                         subMchid=SUB_A)
    assert codes(refused) == ["NOT_A_SERVICE_PROVIDER_ACCOUNT"]
    # The agency's account holds no sub_mchid of its own: those go on links.
    sub_on_account = await call(client, CREATE, world.key("agency"), channel="WECHAT_PAY",
                                wechatPay=wechat_input(mchid="1900000200", subMchid=SUB_A))
    assert sub_on_account["userErrors"][0]["field"] == ["wechatPay", "subMchid"]
    account = await agency_account(client, world, None)
    first = await link(client, world.key("agency"), str(account["id"]), _gid(world.merchant_a),
                       subMchid=SUB_A)
    assert first["userErrors"] == [] and first["link"]["subMerchantRef"] == SUB_A
    twice = await link(client, world.key("agency"), str(account["id"]),
                       _gid(world.merchant_a), subMchid=SUB_B)
    assert codes(twice) == ["DUPLICATE_CHANNEL_LINK"]
    assert owner_count(owner_engine, ChannelAccountMerchant) == 1
    # Unlink, unlink again (refused), link anew with another sub_mchid (a new row).
    assert (await unlink(client, world.key("agency"), str(account["id"]),
                         _gid(world.merchant_a)))["userErrors"] == []
    again = await unlink(client, world.key("agency"), str(account["id"]), _gid(world.merchant_a))
    assert codes(again) == ["MERCHANT_NOT_LINKED"]
    relinked = await link(client, world.key("agency"), str(account["id"]),
                          _gid(world.merchant_a), subMchid=SUB_B)
    assert relinked["userErrors"] == []
    shown = (await ok(client, ACCOUNT, {"id": account["id"]}, key=world.key("agency")))["node"]
    assert shown["mode"] == "SERVICE_PROVIDER"
    assert [(m["status"], m["subMerchantRef"]) for m in shown["linkedMerchants"]] == [
        ("UNLINKED", SUB_A), ("ACTIVE", SUB_B)]
    assert [(e["action"], e["fields"]) for e in shown["auditTrail"]][1:] == [
        ("merchant_linked", ["subMchid"]), ("merchant_unlinked", ["status"]),
        ("merchant_linked", ["subMchid"])]
    # The merchant cannot see the agency's account, nor unlink itself.
    assert (await ok(client, ACCOUNT, {"id": account["id"]}, key=world.key("a")))["node"] is None
    mine = await unlink(client, world.key("a"), str(account["id"]), _gid(world.merchant_a))
    assert codes(mine) == ["NOT_FOUND"]


async def test_alipay_refunds_through_the_agencys_app_with_the_merchants_token(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, alipay: FakeAlipay,
        owner_engine: Any) -> None:
    # The fake requires the merchant's app_auth_token on the agency's app.
    created = await call(client, CREATE, world.key("agency"), channel="ALIPAY",
                         alipay=alipay_input(alipay, token=TOKEN, appAuthToken=None))
    account = created["paymentChannelAccount"]
    assert created["userErrors"] == [] and account["mode"] == "SERVICE_PROVIDER"
    linked = await link(client, world.key("agency"), account["id"], _gid(world.merchant_a),
                        appAuthToken=TOKEN)
    assert linked["userErrors"] == [] and linked["link"]["hasAppAuthToken"] is True
    assert TOKEN not in json.dumps(linked)
    assert all(TOKEN not in json.dumps(row.payload) for row in _events(owner_engine))
    case = await approved_case(jobs.db, world, "10.00")  # an Alipay payment
    await jobs.drain()
    [payout] = await payouts_of(jobs.db, case)
    assert payout.adapter == "alipay" and payout.status == PayoutStatus.SUCCEEDED
    assert payout.channel_link_id is not None and alipay.refused == []
    assert (await fresh_case(jobs.db, case)).status == "REFUNDED"


def _events(owner_engine: Any) -> list[Any]:
    with owner_engine.connect() as conn:
        return list(conn.execute(select(DomainEvent.__table__)))  # type: ignore[attr-defined]


async def test_the_read_beyond_a_merchants_scope_is_bounded_and_rls_holds_around_it(
        client: httpx.AsyncClient, jobs: JobHarness, world: World) -> None:
    account = await agency_account(client, world, None)
    await link(client, world.key("agency"), str(account["id"]), _gid(world.merchant_a),
               subMchid=SUB_A)
    await agency_account(client, world, None, who="other_agency", mchid="1900000900")
    # Merchant b (same agency, not linked) finds nothing; merchant c (no agency) neither.
    for merchant in (world.merchant_b, world.merchant_c):
        async with jobs.db.unit_of_work(runtime.job_scope(merchant, "test")) as uow:
            assert await channel_accounts.service_provider_route(uow, merchant,
                                                                 "WECHAT_PAY") is None
    async with jobs.db.unit_of_work(runtime.job_scope(world.merchant_a, "test")) as uow:
        found = await channel_accounts.service_provider_route(uow, world.merchant_a,
                                                              "WECHAT_PAY")
        assert found is not None and found.link is not None
        assert found.account.tenant_id == world.agency_id
        assert found.link.sub_merchant_ref == SUB_A
        assert await channel_accounts.service_provider_route(uow, world.merchant_a,
                                                             "ALIPAY") is None
        # Right after it, the merchant's unit sees no agency row again (RLS on PostgreSQL;
        # SQLite has none, so only the repositories' scope filter stands there).
        if not uow.is_sqlite:
            rows = (await unchecked(uow).execute(select(PaymentChannelAccount))).scalars()
            assert list(rows) == []
            links = (await unchecked(uow).execute(select(ChannelAccountMerchant))).scalars()
            assert list(links) == []


async def test_an_alipay_notification_to_the_agencys_app_settles_the_merchants_payout(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, alipay: FakeAlipay) -> None:
    created = await call(client, CREATE, world.key("agency"), channel="ALIPAY",
                         alipay=alipay_input(alipay, token=TOKEN, appAuthToken=None))
    account = created["paymentChannelAccount"]
    await link(client, world.key("agency"), account["id"], _gid(world.merchant_a),
               appAuthToken=TOKEN)
    alipay.pending = True
    case = await approved_case(jobs.db, world, "10.00")
    await jobs.drain()
    [payout] = await payouts_of(jobs.db, case)
    assert payout.status == PayoutStatus.PROCESSING
    assert alipay.notify_urls[alipay.key_of(payout.out_refund_no)] == account["callbackUrl"]
    alipay.settle(payout.out_refund_no)
    # A refund number of no linked merchant's: acknowledged, nothing changes.
    path, stray = alipay.notification(payout.out_refund_no, app_id=APP_ID,
                                      out_biz_no="QRNOSUCH")
    answer = await client.post(path, content=stray, headers=FORM)
    assert answer.text == "success"
    assert (await payouts_of(jobs.db, case))[0].status == PayoutStatus.PROCESSING
    path, body = alipay.notification(payout.out_refund_no, app_id=APP_ID)
    answer = await client.post(path, content=body, headers=FORM)
    assert answer.status_code == 200 and answer.text == "success"
    assert (await payouts_of(jobs.db, case))[0].status == PayoutStatus.SUCCEEDED
    assert (await fresh_case(jobs.db, case)).status == "REFUNDED"
