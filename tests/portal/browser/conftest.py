"""Browser tests: Debian's chromium, headless, driven by playwright, against the app
served by uvicorn on a free local port (in the test's event loop, so the test reads
the same database and the same log).

chromium comes from apt (scripts/test installs it when missing); without it these
tests are skipped with a message. Screenshots go to ``test-artifacts/`` (gitignored).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from qrefund.app import create_app
from qrefund.platform.config import Settings
from qrefund.platform.db import Database

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="no /usr/bin/chromium: scripts/test installs it (apt)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def base_url(settings: Settings, db: Database) -> AsyncIterator[str]:
    port = _free_port()
    app = create_app(settings, db)
    # No lifespan: the job runtime and the pub/sub hub are not what these tests look at.
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                          lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve())
    for _ in range(500):  # up to 10 s
        if server.started:
            break
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                            args=["--no-sandbox"])
        yield launched
        await launched.close()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A phone-sized browser whose requests may only go to 127.0.0.1: anything else
    is aborted and recorded in ``context.outside``."""
    ctx = await browser.new_context(viewport={"width": 390, "height": 844},
                                    device_scale_factor=2, locale="zh-CN")
    outside: list[str] = []

    async def only_local(route, request) -> None:  # type: ignore[no-untyped-def]
        if request.url.startswith(("http://127.0.0.1:", "ws://127.0.0.1:")):
            await route.continue_()
        else:
            outside.append(request.url)
            await route.abort()

    await ctx.route("**/*", only_local)
    ctx.outside = outside  # type: ignore[attr-defined]
    yield ctx
    await ctx.close()


@pytest.fixture
async def page(context: BrowserContext) -> AsyncIterator[Page]:
    opened = await context.new_page()
    problems: list[str] = []
    opened.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    opened.on("pageerror", lambda e: problems.append(str(e)))
    opened.problems = problems  # type: ignore[attr-defined]
    yield opened


def shot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / f"{name}.png"
