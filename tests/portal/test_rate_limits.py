"""Budgets of the pages: per client address and per receipt token."""

from __future__ import annotations

import httpx

from tests.foundation.helpers import record_txn
from tests.portal.helpers import ZH
from tests.support.world import World


async def test_a_receipt_token_has_its_own_budget(
    client: httpx.AsyncClient, tight_client: httpx.AsyncClient, world: World
) -> None:
    txn = await record_txn(client, world.key("a", "INTEGRATION"))
    path = f"/r/{txn['receiptToken']}"
    codes = [(await tight_client.get(path, headers=ZH)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    refused = await tight_client.get(path, headers=ZH)
    assert int(refused.headers["retry-after"]) >= 1
    assert "请求过于频繁" in refused.text
    # another page from the same address still has budget left (12 per address)
    assert (await tight_client.get("/r/other", headers=ZH)).status_code == 404


async def test_an_address_has_a_budget_across_tokens(tight_client: httpx.AsyncClient) -> None:
    codes = [(await tight_client.get(f"/r/guess-{n}", headers=ZH)).status_code
             for n in range(14)]
    assert codes == [404] * 12 + [429] * 2
