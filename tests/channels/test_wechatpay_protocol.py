"""The WeChat Pay signatures on both sides: the fake refuses what the provider refuses,
and the adapter refuses what the platform must (responses and notifications)."""

from __future__ import annotations

import base64
import json
import time
import uuid

import pytest

from qrefund.platform.channels import wechatpay
from qrefund.platform.channels.wechatpay import SignatureRejected, WeChatPayConfig
from qrefund.platform.payouts.channels import ChannelUnavailable, RefundRequest
from tests.channels.api import MCHID
from tests.channels.fake_wechatpay import PLATFORM_KEY_ID, FakeWeChatPay, api_v3_key
from tests.channels.keys import pair


def _config(fake: FakeWeChatPay, **override: str) -> WeChatPayConfig:
    keys, v3 = pair("merchant-a"), api_v3_key()
    fake.add_merchant(MCHID, keys, v3)
    values = {"mchid": MCHID, "sub_mchid": None, "merchant_serial": keys.serial,
              "merchant_private_key": keys.private_pem, "api_v3_key": v3,
              "platform_key_id": PLATFORM_KEY_ID,
              "platform_public_key": pair("wechatpay-platform").public_pem,
              "notify_url": "https://pay.example.com/cb", "api_base": fake.url}
    return WeChatPayConfig(**{**values, **override})  # type: ignore[arg-type]


PATH = "/v3/refund/domestic/refunds/QR1"


def test_the_fake_accepts_a_request_signed_by_the_adapter(fake: FakeWeChatPay) -> None:
    config = _config(fake)
    auth = wechatpay.authorization(config, "GET", PATH, "")
    assert fake.check_request("GET", PATH, {"Authorization": auth}, b"") is None


@pytest.mark.parametrize(("change", "why"), [
    ({"merchant_serial": "ABCDEF0123"}, "wrong serial_no"),
    ({"mchid": "1999999999"}, "unknown mchid"),
    ({"merchant_private_key": pair("forger").private_pem}, "bad signature"),
])
def test_the_fake_refuses_wrong_keys(fake: FakeWeChatPay, change: dict[str, str],
                                     why: str) -> None:
    good = _config(fake)
    bad = WeChatPayConfig(**{**good.__dict__, **change})
    auth = wechatpay.authorization(bad, "GET", PATH, "")
    assert fake.check_request("GET", PATH, {"Authorization": auth}, b"") == why


def test_the_fake_refuses_a_stale_timestamp_a_replayed_nonce_and_another_body(
        fake: FakeWeChatPay) -> None:
    config = _config(fake)
    stale = wechatpay.authorization(config, "GET", PATH, "", timestamp=int(time.time()) - 600)
    assert fake.check_request("GET", PATH, {"Authorization": stale}, b"") == "stale timestamp"
    once = wechatpay.authorization(config, "POST", PATH, "{}", nonce="N1")
    assert fake.check_request("POST", PATH, {"Authorization": once}, b"{}") is None
    assert fake.check_request("POST", PATH, {"Authorization": once}, b"{}") == "replayed nonce"
    other = wechatpay.authorization(config, "POST", PATH, "{}", nonce="N2")
    assert fake.check_request("POST", PATH, {"Authorization": other},
                              b'{"x":1}') == "bad signature"


def test_the_platform_verifies_and_refuses_the_same_faults(fake: FakeWeChatPay) -> None:
    config = _config(fake)
    body = b'{"status":"SUCCESS"}'
    wechatpay.verify(config, fake.sign(body), body)
    faults = {
        "tampered body": (fake.sign(body), b'{"status":"CLOSED"}'),
        "stale timestamp": (fake.sign(body, timestamp=int(time.time()) - 301), body),
        "wrong serial": (fake.sign(body, serial="PUB_KEY_ID_OTHER"), body),
        "wrong key": (fake.sign(body, key=pair("forger").private), body),
        "no headers": ({}, body),
    }
    for name, (headers, sent) in faults.items():
        with pytest.raises(SignatureRejected):
            wechatpay.verify(config, headers, sent)
            pytest.fail(f"accepted: {name}")


def test_the_resource_decrypts_only_with_the_api_v3_key(fake: FakeWeChatPay) -> None:
    config = _config(fake)
    fake.refunds["QR1"] = {"out_trade_no": "", "transaction_id": "4200", "refund_id": "503",
                           "status": "SUCCESS", "user_received_account": "x",
                           "amount": {"total": 100, "refund": 100}, "notify_url": "/cb"}
    _path, body, _headers = fake.notification("QR1", MCHID)
    resource = json.loads(body)["resource"]
    assert wechatpay.decrypt_resource(config.api_v3_key, resource)["refund_status"] == "SUCCESS"
    with pytest.raises(SignatureRejected):
        wechatpay.decrypt_resource("Z" * 32, resource)
    broken = {**resource, "ciphertext": base64.b64encode(b"x" * 40).decode()}
    with pytest.raises(SignatureRejected):
        wechatpay.decrypt_resource(config.api_v3_key, broken)


@pytest.mark.parametrize(("code", "outcome"), [
    ("NOT_ENOUGH", "retry"), ("FREQUENCY_LIMITED", "retry"), ("SYSTEM_ERROR", "retry"),
    ("USER_ACCOUNT_ABNORMAL", "USER_ACCOUNT_ABNORMAL"), ("PARAM_ERROR", "PARAM_ERROR"),
    ("SIGN_ERROR", "SIGN_ERROR"), ("NO_AUTH", "NO_AUTH"),
])
async def test_error_codes_map_to_retry_or_failure(fake: FakeWeChatPay, code: str,
                                                   outcome: str) -> None:
    channel = wechatpay.WeChatPayChannel(_config(fake))
    fake.errors = [code]
    request = RefundRequest(out_refund_no=f"QR{code}", tenant_id=uuid.uuid4(),
                            amount_minor=100, currency="CNY", method="ORIGINAL_ROUTE",
                            payment_channel="WECHAT_PAY", provider_reference="4200",
                            payment_amount_minor=100)
    if outcome == "retry":
        with pytest.raises(ChannelUnavailable):
            await channel.refund(request)
    else:
        result = await channel.refund(request)
        assert result.status == "FAILED" and result.failure_code == outcome
    assert fake.refunds == {}


async def test_an_unreachable_gateway_is_transient() -> None:
    config = WeChatPayConfig("1", None, "AB", pair("merchant-a").private_pem, "A" * 32, "K",
                             pair("wechatpay-platform").public_pem, "https://x/cb",
                             api_base="http://127.0.0.1:9")
    with pytest.raises(ChannelUnavailable):
        await wechatpay.WeChatPayChannel(config, timeout=1).query("QR1")
