"""/my in a real browser: the code comes from the logged SMS."""

from __future__ import annotations

import logging

import pytest
from playwright.async_api import BrowserContext, Page

from qrefund.platform.db import Database
from tests.portal.browser.conftest import shot
from tests.portal.test_my import NOTIFIER_LOG, sent_codes
from tests.refunds.helpers import record_txn, submit
from tests.support.world import World


async def test_my_refunds_with_a_code_from_the_logged_sms(
    base_url: str, page: Page, context: BrowserContext, db: Database, world: World,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=NOTIFIER_LOG)
    case = await submit(db, world, await record_txn(db, world, amount="128.00"), "28.00",
                        contact_phone="+86 138 0013 8000")
    await page.goto(f"{base_url}/my")
    assert await page.locator("html").get_attribute("lang") == "zh-CN"
    await page.fill("#contact", "13800138000")
    await page.screenshot(path=shot(page, "my-1-contact-zh"), full_page=True)
    await page.click("button[type=submit]")
    await page.locator("#code").wait_for()
    assert "138****8000" in await page.inner_text("main")
    codes = sent_codes(caplog)
    assert len(codes) == 1
    await page.fill("#code", codes[0])
    await page.screenshot(path=shot(page, "my-2-code-zh"), full_page=True)
    await page.click("button[type=submit]")
    await page.get_by_text(case.case_number).wait_for()
    main = await page.inner_text("main")
    assert "Merchant A" in main and "已提交" in main and "¥28.00" in main
    await page.screenshot(path=shot(page, "my-3-list-zh"), full_page=True)

    await page.click("text=English")
    await page.get_by_text("Sign out").wait_for()
    assert "Submitted" in await page.inner_text("main")
    await page.screenshot(path=shot(page, "my-4-list-en"), full_page=True)
    await page.click("text=Open the receipt page")
    await page.get_by_text("Amount paid").wait_for()
    assert "POS" not in page.url and "/r/" in page.url
    await page.screenshot(path=shot(page, "my-5-receipt-en"), full_page=True)
    assert context.outside == []  # type: ignore[attr-defined]
    assert page.problems == []  # type: ignore[attr-defined]
