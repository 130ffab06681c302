"""Cross-tenant cases for payment channel accounts (tests/foundation/cross_tenant.py)."""

from __future__ import annotations

from typing import Any

from qrefund.graphql_schema import ids
from tests.channels.api import create_wechat, wechat_input
from tests.channels.service_provider import LINK, SUB_A, UNLINK, link
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


async def _link_own(v: Victim) -> dict[str, Any]:
    """The victim's own account and its own tenant as the merchant to link."""
    return {"i": {"accountId": await _victim_account(v), "merchantId": v.gid,
                  "subMchid": SUB_A}}


async def _agency_link(v: Victim, *, linked: bool) -> dict[str, Any]:
    """The victim agency's service-provider account and its merchant a (linked or not)."""
    creds = wechat_input(mchid="1900000888")
    account = await create_wechat(v.client, v.key, wechatPay=creds)
    v.hide(creds["apiV3Key"], creds["merchantSerial"], "1900000888", account["callbackUrl"])
    merchant = ids.encode("Tenant", v.world.merchant_a)
    if linked:
        done = await link(v.client, v.key, account["id"], merchant, subMchid="1900000777")
        assert done["userErrors"] == [], done
        v.hide("1900000777")
    refs = {} if linked else {"subMchid": SUB_A}
    return {"i": {"accountId": account["id"], "merchantId": merchant, **refs}}


async def _link_agency(v: Victim) -> dict[str, Any]:
    return await _agency_link(v, linked=False)


async def _unlink_agency(v: Victim) -> dict[str, Any]:
    return await _agency_link(v, linked=True)


# Another agency, and the agency's own merchant, reaching for the agency's account.
_AGENCY_VICTIM = (("other_agency", "agency"), ("a", "agency"))


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
    Case("linkChannelAccountMerchant", LINK, _link_own, name="own account"),
    Case("linkChannelAccountMerchant", LINK, _link_agency, pairs=_AGENCY_VICTIM,
         name="agency account"),
    Case("unlinkChannelAccountMerchant", UNLINK, _unlink_agency, pairs=_AGENCY_VICTIM),
]
