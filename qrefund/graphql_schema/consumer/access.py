"""A public field's way in: its rate limits, then a unit of work in the receipt's scope.

Every call of a public consumer field counts against its receipt token (a digest of
it) and against the client address (``QREFUND_RATE_LIMIT_RECEIPT_PER_TOKEN`` and
``..._PER_ADDRESS``); over either budget the request is answered with HTTP 429, a
``Retry-After`` header and an error coded ``RATE_LIMITED``, before any database work.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from qrefund.graphql_schema.context import Info
from qrefund.graphql_schema.errors import ExpectedGraphQLError, RequestError
from qrefund.platform.consumer.access import receipt_unit
from qrefund.platform.db import UnitOfWork


async def admit(info: Info, token: str) -> None:
    limiter = info.context.limiter
    if limiter is None:
        return
    client = getattr(info.context.request, "client", None)
    address = client.host if client else "unknown"
    digest = hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()[:32]
    verdict = await limiter.receipt_request(digest, address)
    if verdict.allowed:
        return
    response = info.context.response
    if response is not None and hasattr(response, "status_code"):
        response.status_code = 429
        response.headers["Retry-After"] = str(verdict.retry_after)
    raise ExpectedGraphQLError(
        f"too many requests for this receipt: retry in {verdict.retry_after} s",
        extensions={"code": RequestError.RATE_LIMITED, "retryAfter": verdict.retry_after})


@asynccontextmanager
async def receipt_scope_unit(info: Info, token: str, *, readonly: bool = False
                             ) -> AsyncIterator[UnitOfWork]:
    """Admit the call, release the request's own read unit, open the receipt's unit."""
    await admit(info, token)
    await info.context.release_reading()
    async with receipt_unit(info.context.db, token, readonly=readonly) as uow:
        yield uow
