"""Building blocks of the service-provider (服务商) tests: the agency's own account at the
fake, its merchants' links."""

from __future__ import annotations

from typing import Any

import httpx

from tests.channels.api import call, create_wechat, wechat_input
from tests.channels.fake_wechatpay import FakeWeChatPay
from tests.support.world import World

SP_MCHID = "1900000200"
SUB_A = "1900000301"
SUB_B = "1900000302"
ERRORS = "userErrors { code field message }"
LINK_FIELDS = ("link { merchantId status subMerchantRef hasAppAuthToken createdBy unlinkedAt "
               "unlinkedBy }")
LINK = f"""mutation($i: LinkChannelAccountMerchantInput!) {{
  linkChannelAccountMerchant(input: $i) {{ {LINK_FIELDS} {ERRORS} }} }}"""
UNLINK = f"""mutation($i: UnlinkChannelAccountMerchantInput!) {{
  unlinkChannelAccountMerchant(input: $i) {{ {LINK_FIELDS} {ERRORS} }} }}"""


async def agency_account(client: httpx.AsyncClient, world: World, fake: FakeWeChatPay | None,
                         *, who: str = "agency", mchid: str = SP_MCHID) -> dict[str, Any]:
    """The agency's own WeChat Pay account (service-provider mode), known to the fake."""
    creds = wechat_input(fake, mchid=mchid, merchant=f"{who}-sp")
    return await create_wechat(client, world.key(who), wechatPay=creds)


async def link(client: httpx.AsyncClient, key: str, account_id: str, merchant_gid: str,
               **refs: Any) -> dict[str, Any]:
    return await call(client, LINK, key, accountId=account_id, merchantId=merchant_gid, **refs)


async def unlink(client: httpx.AsyncClient, key: str, account_id: str, merchant_gid: str
                 ) -> dict[str, Any]:
    return await call(client, UNLINK, key, accountId=account_id, merchantId=merchant_gid)
