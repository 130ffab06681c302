"""Payment channel accounts through the API: refusals first (nothing written), then
create, rotate, disable/enable, test; secrets never come back, the audit trail names
fields only."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from qrefund.graphql_schema import ids
from qrefund.platform.channels import credentials
from qrefund.platform.channels.models import PaymentChannelAccount, PaymentChannelAccountEvent
from qrefund.platform.outbox.models import DomainEvent
from tests.channels.api import (
    CREATE,
    DISABLE,
    ENABLE,
    LIST,
    ROTATE,
    TEST,
    call,
    codes,
    create_wechat,
    wechat_input,
)
from tests.channels.fake_wechatpay import FakeWeChatPay
from tests.channels.keys import pair, small_key_pem
from tests.support.graphql import gql, ok
from tests.support.world import World
from tests.webhooks.support import owner_count, owner_rows


def _nothing_written(owner_engine: Any, events_before: int) -> None:
    assert owner_count(owner_engine, PaymentChannelAccount) == 0
    assert owner_count(owner_engine, PaymentChannelAccountEvent) == 0
    assert owner_count(owner_engine, DomainEvent) == events_before


@pytest.mark.parametrize(("field", "value", "code"), [
    ("merchantPrivateKey", "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----",
     "INVALID_CREDENTIAL"),
    ("merchantPrivateKey", pair("merchant-a").public_pem, "INVALID_CREDENTIAL"),
    ("merchantPrivateKey", "", "REQUIRED"),
    ("merchantPrivateKey", "x" * 9000, "TOO_LONG"),
    ("platformPublicKey", "garbage", "INVALID_CREDENTIAL"),
    ("apiV3Key", "short", "INVALID_CREDENTIAL"),
    ("apiV3Key", "a" * 31 + "!", "INVALID_CREDENTIAL"),
    ("mchid", "abc", "INVALID_CREDENTIAL"),
    ("merchantSerial", "not-hex!", "INVALID_CREDENTIAL"),
    ("platformKeyId", "bad id with spaces", "INVALID_CREDENTIAL"),
])
async def test_a_credential_that_does_not_parse_is_refused_naming_its_field(
        client: httpx.AsyncClient, world: World, owner_engine: Any, field: str, value: str,
        code: str) -> None:
    before = owner_count(owner_engine, DomainEvent)
    payload = await call(client, CREATE, world.key("a"), channel="WECHAT_PAY",
                         wechatPay=wechat_input(**{field: value}))
    assert codes(payload) == [code], payload
    assert payload["userErrors"][0]["field"] == ["wechatPay", field]
    assert payload["paymentChannelAccount"] is None
    _nothing_written(owner_engine, before)


async def test_a_small_rsa_key_is_refused(client: httpx.AsyncClient, world: World,
                                          owner_engine: Any) -> None:
    payload = await call(client, CREATE, world.key("a"), channel="WECHAT_PAY",
                         wechatPay=wechat_input(merchantPrivateKey=small_key_pem()))
    assert codes(payload) == ["INVALID_CREDENTIAL"]
    assert "2048" in payload["userErrors"][0]["message"]


async def test_the_credentials_block_must_match_the_channel(
        client: httpx.AsyncClient, world: World, owner_engine: Any) -> None:
    before = owner_count(owner_engine, DomainEvent)
    missing = await call(client, CREATE, world.key("a"), channel="WECHAT_PAY")
    assert codes(missing) == ["INVALID_CREDENTIAL"]
    assert missing["userErrors"][0]["field"] == ["wechatPay"]
    crossed = await call(client, CREATE, world.key("a"), channel="ALIPAY",
                         wechatPay=wechat_input())
    assert codes(crossed) == ["INVALID_CREDENTIAL"]
    _nothing_written(owner_engine, before)


@pytest.mark.parametrize("role", ["REFUND_AGENT", "SUPPORT", "VIEWER", "INTEGRATION"])
async def test_only_admins_manage_accounts(client: httpx.AsyncClient, world: World,
                                           owner_engine: Any, role: str) -> None:
    before = owner_count(owner_engine, DomainEvent)
    payload = await call(client, CREATE, world.key("a", role), channel="WECHAT_PAY",
                         wechatPay=wechat_input())
    assert codes(payload) == ["FORBIDDEN"]
    _nothing_written(owner_engine, before)
    account = await create_wechat(client, world.key("a"))
    for document in (DISABLE, TEST):
        refused = await call(client, document, world.key("a", role), id=account["id"])
        assert codes(refused) == ["FORBIDDEN"]
    rotated = await call(client, ROTATE, world.key("a", role), id=account["id"],
                         wechatPay={"apiV3Key": "B" * 32})
    assert codes(rotated) == ["FORBIDDEN"]
    body = await gql(client, LIST, {}, key=world.key("a", role))
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    node = await ok(client, "query($id: ID!) { node(id: $id) { id } }", {"id": account["id"]},
                    key=world.key("a", role))
    assert node["node"] is None


async def test_another_tenants_account_is_not_found(client: httpx.AsyncClient, world: World,
                                                    owner_engine: Any) -> None:
    account = await create_wechat(client, world.key("a"))
    trail = len(owner_rows(owner_engine, PaymentChannelAccountEvent))
    for who in ("b", "c", "other_agency"):
        for document, extra in ((DISABLE, {}), (TEST, {}),
                                (ROTATE, {"wechatPay": {"apiV3Key": "C" * 32}})):
            payload = await call(client, document, world.key(who), id=account["id"], **extra)
            assert codes(payload) == ["NOT_FOUND"], (who, payload)
        listed = await ok(client, LIST, {}, key=world.key(who))
        assert listed["paymentChannelAccounts"] == []
        node = await ok(client, "query($id: ID!) { node(id: $id) { id } }",
                        {"id": account["id"]}, key=world.key(who))
        assert node["node"] is None
    # Creating for another agency's merchant: not found either.
    payload = await call(client, CREATE, world.key("other_agency"), channel="WECHAT_PAY",
                         merchantId=ids.encode("Tenant", world.merchant_a),
                         wechatPay=wechat_input())
    assert codes(payload) == ["NOT_FOUND"]
    assert len(owner_rows(owner_engine, PaymentChannelAccountEvent)) == trail


async def test_an_agency_configures_its_merchant_in_service_provider_mode(
        client: httpx.AsyncClient, world: World) -> None:
    merchant = ids.encode("Tenant", world.merchant_a)
    account = await create_wechat(client, world.key("agency"), merchantId=merchant,
                                  wechatPay=wechat_input(subMchid="1900000110"))
    assert account["mode"] == "SERVICE_PROVIDER"
    assert account["subMerchantRef"] == "1900000110"
    assert account["merchantId"] == merchant
    mine = await ok(client, LIST, {}, key=world.key("a"))
    assert [a["id"] for a in mine["paymentChannelAccounts"]] == [account["id"]]
    # Naming no merchant, the agency creates its own service-provider account; its
    # merchants' sub_mchids go on their links (linkChannelAccountMerchant), not on it.
    with_sub = await call(client, CREATE, world.key("agency"), channel="WECHAT_PAY",
                          wechatPay=wechat_input(subMchid="1900000110"))
    assert codes(with_sub) == ["INVALID_CREDENTIAL"]
    own = await create_wechat(client, world.key("agency"), wechatPay=wechat_input())
    assert own["mode"] == "SERVICE_PROVIDER" and own["subMerchantRef"] is None
    assert own["merchantId"] == ids.encode("Tenant", world.agency_id)
    # The operator still has to name a merchant.
    required = await call(client, CREATE, world.key("operator"), channel="WECHAT_PAY",
                          wechatPay=wechat_input())
    assert codes(required) == ["MERCHANT_REQUIRED"]


async def test_create_shows_no_secret_and_stores_them_sealed(
        client: httpx.AsyncClient, world: World, owner_engine: Any) -> None:
    creds = wechat_input()
    account = await create_wechat(client, world.key("a"), wechatPay=creds)
    assert account["status"] == "ENABLED" and account["mode"] == "DIRECT"
    assert account["merchantRef"] == creds["mchid"]
    assert account["keySerial"] == creds["merchantSerial"]
    assert account["callbackUrl"].startswith("https://pay.example.com/callbacks/wechatpay/")
    assert account["callbackUrl"].endswith(account["id"])
    shown = json.dumps(account)
    listed = json.dumps(await ok(client, LIST, {}, key=world.key("a")))
    row = owner_rows(owner_engine, PaymentChannelAccount)[0]
    stored = json.dumps({k: str(v) for k, v in row._mapping.items()})
    trail = json.dumps([dict(r._mapping) for r in owner_rows(
        owner_engine, PaymentChannelAccountEvent)], default=str)
    events = json.dumps([r.payload for r in owner_rows(owner_engine, DomainEvent)], default=str)
    for secret in (creds["apiV3Key"], "PRIVATE KEY", creds["merchantPrivateKey"][40:80]):
        for text in (shown, listed, stored, trail, events):
            assert secret not in text
    opened = credentials.open_wechatpay(row.secrets_enc)
    assert opened.api_v3_key == creds["apiV3Key"]
    assert account["auditTrail"][0]["action"] == "created"
    assert "apiV3Key" not in account["auditTrail"][0]["fields"]  # names are Python's
    assert "api_v3_key" in account["auditTrail"][0]["fields"]
    again = await call(client, CREATE, world.key("a"), channel="WECHAT_PAY", wechatPay=creds)
    assert codes(again) == ["DUPLICATE_CHANNEL_ACCOUNT"]


async def test_rotate_replaces_only_what_is_given_and_is_audited(
        client: httpx.AsyncClient, world: World, owner_engine: Any) -> None:
    account = await create_wechat(client, world.key("a"))
    before = owner_rows(owner_engine, PaymentChannelAccount)[0]
    old = credentials.open_wechatpay(before.secrets_enc)
    payload = await call(client, ROTATE, world.key("a"), id=account["id"],
                         wechatPay={"apiV3Key": "N" * 32})
    assert payload["userErrors"] == []
    rotated = payload["paymentChannelAccount"]
    assert rotated["secretsRotatedAt"] is not None
    assert [e["action"] for e in rotated["auditTrail"]] == ["created", "rotated"]
    assert rotated["auditTrail"][1]["fields"] == ["api_v3_key"]
    now = credentials.open_wechatpay(owner_rows(owner_engine, PaymentChannelAccount)[0]
                                     .secrets_enc)
    assert now.api_v3_key == "N" * 32
    assert now.merchant_private_key == old.merchant_private_key
    bad = await call(client, ROTATE, world.key("a"), id=account["id"],
                     wechatPay={"merchantPrivateKey": "nope"})
    assert codes(bad) == ["INVALID_CREDENTIAL"]
    assert bad["userErrors"][0]["field"] == ["wechatPay", "merchantPrivateKey"]
    empty = await call(client, ROTATE, world.key("a"), id=account["id"], wechatPay={})
    assert codes(empty) == ["INVALID_CREDENTIAL"]
    trail = owner_rows(owner_engine, PaymentChannelAccountEvent,
                       PaymentChannelAccountEvent.action == "rotated")
    assert len(trail) == 1


async def test_disable_and_enable_refuse_the_state_they_are_in(
        client: httpx.AsyncClient, world: World) -> None:
    account = await create_wechat(client, world.key("a"))
    disabled = await call(client, DISABLE, world.key("a"), id=account["id"])
    assert disabled["paymentChannelAccount"]["status"] == "DISABLED"
    again = await call(client, DISABLE, world.key("a"), id=account["id"])
    assert codes(again) == ["CHANNEL_ACCOUNT_DISABLED"]
    enabled = await call(client, ENABLE, world.key("a"), id=account["id"])
    assert enabled["paymentChannelAccount"]["status"] == "ENABLED"
    assert codes(await call(client, ENABLE, world.key("a"), id=account["id"])) == [
        "CHANNEL_ACCOUNT_ENABLED"]


async def test_the_test_mutation_makes_a_signed_call_that_moves_no_money(
        client: httpx.AsyncClient, world: World, fake: FakeWeChatPay) -> None:
    account = await create_wechat(client, world.key("a"), fake)
    payload = await call(client, TEST, world.key("a"), id=account["id"])
    tested = payload["paymentChannelAccount"]
    assert tested["lastTestOk"] is True, tested
    assert fake.refunds == {} and fake.refused == []
    # A key the provider does not know: the fake refuses the signature, the test says so.
    await call(client, ROTATE, world.key("a"), id=account["id"],
               wechatPay={"merchantPrivateKey": pair("someone-else").private_pem})
    failed = (await call(client, TEST, world.key("a"), id=account["id"]))[
        "paymentChannelAccount"]
    assert failed["lastTestOk"] is False
    assert "SIGN_ERROR" in failed["lastTestMessage"]
    assert fake.refused == ["bad signature"]



async def test_a_platform_certificate_names_its_serial(client: httpx.AsyncClient,
                                                       world: World) -> None:
    platform = pair("wechatpay-platform")
    creds = wechat_input(platformPublicKey=platform.cert_pem)
    del creds["platformKeyId"]
    account = await create_wechat(client, world.key("a"), wechatPay=creds)
    assert account["providerKeyId"] == platform.serial
    bare = wechat_input()
    del bare["platformKeyId"]
    refused = await call(client, CREATE, world.key("b"), channel="WECHAT_PAY", wechatPay=bare)
    assert codes(refused) == ["INVALID_CREDENTIAL"]
    assert refused["userErrors"][0]["field"] == ["wechatPay", "platformKeyId"]
    # Rotating to a bare key keeps the key id the account has.
    rotated = await call(client, ROTATE, world.key("a"), id=account["id"],
                         wechatPay={"platformPublicKey": platform.public_pem})
    assert rotated["userErrors"] == []
    assert rotated["paymentChannelAccount"]["providerKeyId"] == platform.serial
