"""Shared bits of the consumer page tests."""

from __future__ import annotations

import re
from typing import Any

import httpx

from qrefund.portal.security import CSRF_COOKIE, CSRF_FIELD

ZH = {"accept-language": "zh-CN,zh;q=0.9"}
EN = {"accept-language": "en-US,en;q=0.9"}
_CSRF_INPUT = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


async def page(client: httpx.AsyncClient, path: str, **headers: str) -> httpx.Response:
    return await client.get(path, headers=headers or ZH)


def csrf_of(response: httpx.Response) -> str:
    """The CSRF token of the first form on a page."""
    found = _CSRF_INPUT.search(response.text)
    assert found, response.text
    return found.group(1)


async def submit(client: httpx.AsyncClient, path: str, fields: dict[str, Any],
                 *, csrf: str | None, **headers: str) -> httpx.Response:
    """POST a form the way a browser does (url-encoded, the cookie jar's CSRF cookie)."""
    data = dict(fields)
    if csrf is not None:
        data[CSRF_FIELD] = csrf
    return await client.post(path, data=data, headers=headers or ZH)


def forget_csrf_cookie(client: httpx.AsyncClient) -> None:
    client.cookies.delete(CSRF_COOKIE)
