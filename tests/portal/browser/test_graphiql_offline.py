"""GraphiQL renders with the network cut off: everything it needs comes from the app."""

from __future__ import annotations

from playwright.async_api import BrowserContext, Page

from tests.portal.browser.conftest import shot


async def test_graphiql_renders_offline(base_url: str, page: Page,
                                        context: BrowserContext) -> None:
    await page.set_viewport_size({"width": 1280, "height": 800})  # a developer's screen
    await page.goto(f"{base_url}/graphql", wait_until="networkidle")
    editor = page.locator(".graphiql-container .graphiql-query-editor .CodeMirror")
    await editor.first.wait_for(state="visible", timeout=15_000)
    assert "Loading…" not in await page.inner_text("body")
    # It works, too: a query through the editor reaches /graphql and shows the answer.
    await page.locator(".graphiql-query-editor .CodeMirror").first.click()
    await page.keyboard.press("Control+A")
    await page.keyboard.type("{ __typename }")
    await page.locator(".graphiql-execute-button").click()
    result = page.locator(".graphiql-response")
    await result.filter(has_text='"__typename": "Query"').first.wait_for(timeout=15_000)
    await page.screenshot(path=shot(page, "graphiql-offline"), full_page=True)
    assert context.outside == []  # type: ignore[attr-defined]
    assert page.problems == []  # type: ignore[attr-defined]  # no CSP violations, no errors
