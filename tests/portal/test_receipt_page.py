"""/r/<token>: the receipt, in the consumer's language, or one plain 404."""

from __future__ import annotations

import httpx

from qrefund.graphql_schema import ids
from qrefund.platform.db import Database
from qrefund.platform.transactions import service
from qrefund.tenants.auth import authenticate
from tests.foundation.helpers import record_txn
from tests.portal.helpers import EN, ZH, page
from tests.support.world import World


async def test_receipt_page_in_chinese_by_default_and_in_english_on_request(
    client: httpx.AsyncClient, world: World
) -> None:
    txn = await record_txn(client, world.key("a", "INTEGRATION"), merchantOrderNo="POS-771",
                           amount="88.00", channel="ALIPAY")
    path = f"/r/{txn['receiptToken']}"
    zh = await client.get(path)  # no Accept-Language at all: Chinese
    assert zh.status_code == 200
    assert '<html lang="zh-CN">' in zh.text
    for shown in ("Merchant A", "POS-771", "支付宝", "支付金额", "可退金额", "88.00"):
        assert shown in zh.text
    en = await page(client, path, **EN)
    assert '<html lang="en">' in en.text
    assert "Alipay" in en.text and "Amount paid" in en.text and "支付宝" not in en.text
    # the visible switch wins over the browser, and is remembered
    switched = await client.get(path + "?lang=en", headers=ZH)
    assert "Amount paid" in switched.text
    assert switched.cookies.get("qrefund_lang") == "en"
    again = await client.get(path, headers=ZH)
    assert "Amount paid" in again.text
    back = await client.get(path + "?lang=zh-CN", headers=EN)
    assert "支付金额" in back.text


async def test_accept_language_quality_is_respected(
    client: httpx.AsyncClient, world: World
) -> None:
    txn = await record_txn(client, world.key("a", "INTEGRATION"))
    path = f"/r/{txn['receiptToken']}"
    prefers_en = await client.get(path, headers={"accept-language": "zh;q=0.5, en;q=0.8"})
    assert '<html lang="en">' in prefers_en.text
    german = await client.get(path, headers={"accept-language": "de-DE, fr;q=0.9"})
    assert '<html lang="zh-CN">' in german.text
    junk = await client.get(path + "?lang=xx", headers={"accept-language": "en;q=abc"})
    assert '<html lang="zh-CN">' in junk.text


async def test_wrong_revoked_and_superseded_tokens_get_the_same_plain_404(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    txn = await record_txn(client, world.key("a", "INTEGRATION"))
    token = txn["receiptToken"]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    tenant_id, txn_id = ids.scoped_id(txn["id"], "Transaction")
    admin = await authenticate(db, world.key("a"))
    async with db.unit_of_work(admin) as uow:
        await service.revoke_receipt(uow, tenant_id, txn_id)
    tried = (tampered, token, "nonsense", "x" * 5000, "%00%ff")
    answers = [await page(client, f"/r/{bad}") for bad in tried]
    assert {a.status_code for a in answers} == {404}
    # nothing tells the cases apart (but the language link, which repeats the path)
    assert len({a.text.replace(bad, "TOKEN") for a, bad in zip(answers, tried[:4],
                                                               strict=False)}) == 1
    assert "Merchant A" not in answers[1].text
    assert "页面不存在" in answers[0].text


async def test_security_headers_on_pages_and_static_files(
    client: httpx.AsyncClient, world: World
) -> None:
    txn = await record_txn(client, world.key("a", "INTEGRATION"))
    for response in (await page(client, f"/r/{txn['receiptToken']}"),
                     await page(client, "/r/unknown"),
                     await client.get("/static/portal/portal.css")):
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "strict-transport-security" not in response.headers  # not production
    html = (await page(client, f"/r/{txn['receiptToken']}")).text
    assert "<script" not in html and "style=" not in html and "http" not in html.split(
        "<body>")[1]  # no inline script or style, nothing fetched from elsewhere


async def test_hsts_in_production_only(settings: object, db: Database, world: World) -> None:
    from qrefund.app import create_app

    prod = settings.model_copy(update={"environment": "production"})  # type: ignore[attr-defined]
    app = create_app(prod, db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="https://testserver") as c:
        response = await c.get("/r/unknown", headers=ZH)
    assert response.status_code == 404
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert "secure" in response.headers["set-cookie"].lower()
