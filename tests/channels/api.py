"""GraphQL documents and helpers for channel account tests."""

from __future__ import annotations

from typing import Any

import httpx

from tests.channels.fake_wechatpay import FakeWeChatPay, api_v3_key
from tests.channels.keys import pair
from tests.support.graphql import ok

FIELDS = """id channel status mode merchantId merchantRef subMerchantRef keySerial providerKeyId
  callbackUrl secretsRotatedAt lastTestAt lastTestOk lastTestMessage disabledAt createdBy
  auditTrail { action actor fields occurredAt }"""
ERRORS = "userErrors { code field message }"
CREATE = f"""mutation($i: CreatePaymentChannelAccountInput!) {{
  createPaymentChannelAccount(input: $i) {{ paymentChannelAccount {{ {FIELDS} }} {ERRORS} }} }}"""
ROTATE = f"""mutation($i: RotatePaymentChannelCredentialsInput!) {{
  rotatePaymentChannelCredentials(input: $i) {{ paymentChannelAccount {{ {FIELDS} }} {ERRORS} }}
}}"""
DISABLE = f"""mutation($i: PaymentChannelAccountIdInput!) {{
  disablePaymentChannelAccount(input: $i) {{ paymentChannelAccount {{ {FIELDS} }} {ERRORS} }} }}"""
ENABLE = f"""mutation($i: PaymentChannelAccountIdInput!) {{
  enablePaymentChannelAccount(input: $i) {{ paymentChannelAccount {{ {FIELDS} }} {ERRORS} }} }}"""
TEST = f"""mutation($i: PaymentChannelAccountIdInput!) {{
  testPaymentChannelAccount(input: $i) {{ paymentChannelAccount {{ {FIELDS} }} {ERRORS} }} }}"""
LIST = f"""query($m: ID) {{ paymentChannelAccounts(merchantId: $m) {{ {FIELDS} }} }}"""

MCHID = "1900000109"


def wechat_input(fake: FakeWeChatPay | None = None, *, mchid: str = MCHID,
                 merchant: str = "merchant-a", **override: Any) -> dict[str, Any]:
    """Valid WeChat Pay credentials (registered with the fake when one is given)."""
    keys, v3 = pair(merchant), api_v3_key()
    if fake is not None:
        fake.add_merchant(mchid, keys, v3)
    values = {"mchid": mchid, "merchantSerial": keys.serial,
              "merchantPrivateKey": keys.private_pem, "apiV3Key": v3,
              "platformKeyId": "PUB_KEY_ID_0112345678902025112900000000000001",
              "platformPublicKey": pair("wechatpay-platform").public_pem}
    return {**values, **override}


async def call(client: httpx.AsyncClient, document: str, key: str, **input: Any
               ) -> dict[str, Any]:
    data = await ok(client, document, {"i": input}, key=key)
    payload: dict[str, Any] = next(iter(data.values()))
    return payload


async def create_wechat(client: httpx.AsyncClient, key: str, fake: FakeWeChatPay | None = None,
                        **extra: Any) -> dict[str, Any]:
    creds = extra.pop("wechatPay", None) or wechat_input(fake)
    payload = await call(client, CREATE, key, channel="WECHAT_PAY", wechatPay=creds, **extra)
    assert payload["userErrors"] == [], payload
    account: dict[str, Any] = payload["paymentChannelAccount"]
    return account


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["userErrors"]]
