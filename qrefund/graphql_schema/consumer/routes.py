"""HTTP routes of the consumer channel beside GraphQL.

``GET /receipts/<transaction id>.png?scale=6``: the receipt's QR code as a PNG for
thermal printers. Authenticated like the API (``Authorization: Bearer <api key>``,
any role that may read the payment), rate-limited per key, refused keys counted per
address. A header rather than a signed link: the POS that prints already holds a key,
and a signed link would be one more secret to leak in logs and proxies. The
transaction id is its GraphQL id; another tenant's or a revoked receipt is 404.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.errors import RequestError
from qrefund.graphql_schema.http import error_response, too_many_requests, unauthorized
from qrefund.platform.config import Settings
from qrefund.platform.consumer import printing, qr
from qrefund.platform.db import Database
from qrefund.platform.errors import DomainError, Unauthenticated
from qrefund.platform.ratelimit import RateLimiter
from qrefund.tenants.auth import authenticate, bearer_token

log = logging.getLogger("qrefund.consumer")
DEFAULT_PNG_SCALE = 6


def _not_found() -> Response:
    return Response("not found\n", status_code=404, media_type="text/plain")


class ReceiptPng:
    """The PNG route's handler (one per app)."""

    def __init__(self, db: Database, settings: Settings, limiter: RateLimiter) -> None:
        self.db, self.settings, self.limiter = db, settings, limiter

    async def handle(self, request: Request) -> Response:
        address = request.client.host if request.client else "unknown"
        blocked = await self.limiter.auth_blocked(address)
        if not blocked.allowed:
            return too_many_requests(blocked.retry_after)
        try:
            token = bearer_token(request.headers.get("authorization"))
            if token is None:
                raise Unauthenticated("authentication required: send 'Authorization: "
                                      "Bearer <api key>'")
            scope = await authenticate(self.db, token)
        except Unauthenticated as exc:
            await self.limiter.auth_failed(address)
            return unauthorized(exc.reason)
        verdict = await self.limiter.key_request(str(scope.api_key_id))
        if not verdict.allowed:
            return too_many_requests(verdict.retry_after)
        scale = request.query_params.get("scale", str(DEFAULT_PNG_SCALE))
        if not scale.isdigit() or not 1 <= int(scale) <= qr.MAX_SCALE:
            return error_response(f"scale must be 1-{qr.MAX_SCALE}", RequestError.BAD_REQUEST,
                                  400)
        try:
            key = ids.scoped_id(request.path_params["transaction_id"], "Transaction")
            async with self.db.unit_of_work(scope, readonly=True) as uow:
                receipt = await printing.current_token(uow, *key)
        except DomainError:
            return _not_found()
        body = qr.png(qr.receipt_url(self.settings, receipt), scale=int(scale))
        # The image is the receipt's credential: never cached by a shared proxy.
        return Response(body, media_type="image/png",
                        headers={"Cache-Control": "no-store", "X-Content-Type-Options":
                                 "nosniff"})
