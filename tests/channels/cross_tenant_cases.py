"""Cross-tenant cases for payment channel accounts (tests/foundation/cross_tenant.py)."""

from __future__ import annotations

from typing import Any

from tests.channels.api import create_wechat, wechat_input
from tests.foundation.cross_tenant import Case, Expect, Victim

_OUT = "paymentChannelAccount { id merchantRef keySerial } userErrors { code field }"


async def _victim_account(v: Victim) -> str:
    creds = wechat_input(mchid="1900000999")
    account = await create_wechat(v.client, v.key, wechatPay=creds)
    v.hide(creds["apiV3Key"], creds["merchantSerial"], "1900000999", account["callbackUrl"])
    return str(account["id"])


async def _create(v: Victim) -> dict[str, Any]:
    return {"i": {"channel": "WECHAT_PAY", "merchantId": v.gid, "wechatPay": wechat_input()}}


async def _by_id(v: Victim) -> dict[str, Any]:
    return {"i": {"id": await _victim_account(v)}}


async def _rotate(v: Victim) -> dict[str, Any]:
    return {"i": {"id": await _victim_account(v), "wechatPay": {"apiV3Key": "R" * 32}}}


async def _list_of(v: Victim) -> dict[str, Any]:
    await _victim_account(v)
    return {"m": v.gid}


async def _list(v: Victim) -> dict[str, Any]:
    await _victim_account(v)
    return {}


async def _discrepancies(v: Victim) -> dict[str, Any]:
    await _victim_account(v)
    return {"m": [v.gid]}


async def _node(v: Victim) -> dict[str, Any]:
    return {"id": await _victim_account(v)}


def _mutation(field: str, input_type: str) -> str:
    return f"mutation($i: {input_type}!) {{ {field}(input: $i) {{ {_OUT} }} }}"


CASES: list[Case] = [
    Case("createPaymentChannelAccount",
         _mutation("createPaymentChannelAccount", "CreatePaymentChannelAccountInput"), _create),
    Case("rotatePaymentChannelCredentials",
         _mutation("rotatePaymentChannelCredentials", "RotatePaymentChannelCredentialsInput"),
         _rotate),
    Case("disablePaymentChannelAccount",
         _mutation("disablePaymentChannelAccount", "PaymentChannelAccountIdInput"), _by_id),
    Case("enablePaymentChannelAccount",
         _mutation("enablePaymentChannelAccount", "PaymentChannelAccountIdInput"), _by_id),
    Case("testPaymentChannelAccount",
         _mutation("testPaymentChannelAccount", "PaymentChannelAccountIdInput"), _by_id),
    Case("paymentChannelAccounts",
         "query($m: ID) { paymentChannelAccounts(merchantId: $m) { id merchantRef } }",
         _list_of, name="merchantId"),
    Case("paymentChannelAccounts", "{ paymentChannelAccounts { id merchantRef keySerial } }",
         _list, Expect.NO_LEAK, name="unfiltered"),
    Case("node", "query($id: ID!) { node(id: $id) { id } }", _node, Expect.NULL,
         name="PaymentChannelAccount"),
    Case("payoutDiscrepancies",
         "query($m: [ID!]) { payoutDiscrepancies(merchantIds: $m) { id discrepancy } }",
         _discrepancies),
]
