"""The receipt page end to end in a real browser: a partial refund asked for on the
page, approved by the merchant through the API, paid by a real worker, followed to
REFUNDED with its notifications; then a complaint, resolved by the merchant, rated."""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import BrowserContext, Page

from qrefund.jobs.registry import QUEUES
from qrefund.platform.crypto import key_ring
from qrefund.platform.transactions.receipt import make_token
from tests.jobs.conftest import job_settings, jobs  # noqa: F401  (fixtures)
from tests.jobs.support import JobHarness, record_txn
from tests.portal.browser.conftest import shot
from tests.portal.test_evidence import photo
from tests.support.graphql import ok
from tests.support.world import World

WORDS = {
    "zh-CN": {"submitted": "您的退款申请已提交", "SUBMITTED": "已提交", "REFUNDED": "已退款",
              "deadlines": "前处理", "messages": "发给您的通知", "complained": "您的投诉已提交",
              "rated": "感谢您的评价", "stars": "您的评分\uff1a5 / 5"},
    "en": {"submitted": "Your refund request has been submitted.", "SUBMITTED": "Submitted",
           "REFUNDED": "Refunded", "deadlines": "Decision by", "messages": "Messages sent to you",
           "complained": "Your complaint has been filed.", "rated": "Thank you for your rating.",
           "stars": "Your rating: 5 of 5"},
}
CASES = "{ refundCases(first: 1) { edges { node { id status } } } }"
TICKETS = "{ complaintTickets(first: 1) { edges { node { id status } } } }"


async def _mutate(client: httpx.AsyncClient, key: str, field: str, **input: object) -> None:
    kind = field[0].upper() + field[1:]
    data = await ok(client, f"mutation($i: {kind}Input!) {{ {field}(input: $i) "
                            "{ userErrors { code message } } }", {"i": input}, key=key)
    assert data[field]["userErrors"] == [], data


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_refund_followed_to_the_end_and_rated(
    lang: str, base_url: str, browser: object, client: httpx.AsyncClient, world: World,
    jobs: JobHarness,  # noqa: F811
) -> None:
    words = WORDS[lang]
    context: BrowserContext = await browser.new_context(  # type: ignore[attr-defined]
        viewport={"width": 390, "height": 844}, device_scale_factor=2, locale=lang)
    page: Page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    txn = await record_txn(jobs.db, world, amount="128.00")
    token = make_token(key_ring(), txn.tenant_id, txn.id, txn.receipt_token_version)

    await page.goto(f"{base_url}/r/{token}")
    assert await page.locator("html").get_attribute("lang") == lang
    await page.fill("#amount", "28.00")
    await page.select_option("#reason", "QUALITY_ISSUE")
    await page.fill("#description", "杯子有裂缝 / the cup is cracked")
    await page.fill("#phone", "+86 138 0013 8000")
    await page.set_input_files("#evidence", files=[
        {"name": "cup.jpg", "mimeType": "image/jpeg", "buffer": photo()}])
    await page.screenshot(path=shot(page, f"receipt-{lang}-1-form"), full_page=True)
    await page.click("#apply button[type=submit]")
    await page.get_by_text(words["submitted"]).wait_for()
    main = await page.inner_text("main")
    assert words["SUBMITTED"] in main and words["deadlines"] in main
    assert "cup.jpg" in main  # the photo, cleaned and stored, listed with the case
    await page.screenshot(path=shot(page, f"receipt-{lang}-2-submitted"), full_page=True)

    agent = world.key("a", "REFUND_AGENT")
    case_id = (await ok(client, CASES, key=agent))["refundCases"]["edges"][0]["node"]["id"]
    await _mutate(client, agent, "startRefundReview", id=case_id)
    await _mutate(client, agent, "approveRefund", id=case_id)
    await jobs.drain(QUEUES)  # the relay, the payout (sandbox), the notifications
    state = (await ok(client, CASES, key=agent))["refundCases"]["edges"][0]["node"]
    assert state["status"] == "REFUNDED"

    await page.goto(f"{base_url}/r/{token}")
    await page.locator('[data-status="REFUNDED"]').wait_for()
    main = await page.inner_text("main")
    assert words["REFUNDED"] in main and words["messages"] in main
    assert "****8000" in main and "0013" not in main  # messages sent, to the masked phone
    await page.screenshot(path=shot(page, f"receipt-{lang}-3-refunded"), full_page=True)

    await page.select_option("#category", "SERVICE")
    await page.fill("#complaint", "It took a while. / 有点慢。")
    await page.click("#complain button[type=submit]")
    await page.get_by_text(words["complained"]).wait_for()
    support = world.key("a", "SUPPORT")
    ticket = (await ok(client, TICKETS, key=support))["complaintTickets"]["edges"][0]["node"]
    await _mutate(client, support, "resolveComplaint", id=ticket["id"],
                  resolution="EXPLAINED", note="Sorry for the wait.")
    await page.goto(f"{base_url}/r/{token}")
    await page.check('input[name="rating"][value="5"]')
    await page.click('form[action$="/rate"] button[type=submit]')
    await page.get_by_text(words["rated"]).wait_for()
    assert words["stars"] in await page.inner_text("main")
    await page.screenshot(path=shot(page, f"receipt-{lang}-4-rated"), full_page=True)
    assert errors == []
    await context.close()
