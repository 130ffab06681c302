"""HTTP routes of the consumer channel beside GraphQL.

``GET /receipts/<transaction id>.png?scale=6``: the receipt's QR code as a PNG for
thermal printers. Authenticated like the API (``Authorization: Bearer <api key>``,
any role that may read the payment), rate-limited per key, refused keys counted per
address. A header rather than a signed link: the POS that prints already holds a key,
and a signed link would be one more secret to leak in logs and proxies. The
transaction id is its GraphQL id; another tenant's or a revoked receipt is 404.
"""

from __future__ import annotations

import hashlib
import logging
from urllib.parse import quote

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.errors import RequestError
from qrefund.graphql_schema.http import error_response, too_many_requests, unauthorized
from qrefund.platform.clock import utcnow
from qrefund.platform.config import Settings
from qrefund.platform.consumer import links, printing, qr, uploads
from qrefund.platform.consumer.access import receipt_unit
from qrefund.platform.consumer.storage import evidence_store
from qrefund.platform.crypto import key_ring
from qrefund.platform.db import Database
from qrefund.platform.errors import (
    CommonError,
    DomainError,
    ErrorCode,
    NotFound,
    Unauthenticated,
)
from qrefund.platform.ratelimit import RateLimiter
from qrefund.platform.transactions.receipt import make_token
from qrefund.tenants.auth import authenticate, bearer_token, signed_link_scope

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


def _user_error(status: int, code: ErrorCode, message: str, field: list[str] | None = None
                ) -> Response:
    return JSONResponse({"errors": [{"code": code.value, "field": field, "message": message}]},
                        status_code=status)


class EvidenceRoutes:
    """``POST /uploads/<signed ticket>`` (multipart ``files``) and ``GET /evidence/<link>``.

    The upload URL comes from ``requestEvidenceUpload`` (public, by receipt token); it
    names the payment and the receipt version and expires in 30 minutes. The answer is
    ``{"files": [{"id", "type", "contentType", "filename", "size", "sha256"}]}``, the
    ids to pass as ``evidenceIds``; a refusal is ``{"errors": [{"code", "field",
    "message"}]}`` with 400 (404 for a dead ticket, 429 over the receipt's budget).
    Download links (in ``receipt`` for the consumer, ``RefundEvidence.downloadUrl`` for
    staff) expire in 15 minutes and are served with ``Cache-Control: no-store``.
    """

    def __init__(self, db: Database, settings: Settings, limiter: RateLimiter) -> None:
        self.db, self.settings, self.limiter = db, settings, limiter
        self.store = evidence_store(settings)

    async def upload(self, request: Request) -> Response:
        ticket = links.verify(request.path_params["ticket"], links.UPLOAD, utcnow())
        if ticket is None:
            return _user_error(404, CommonError.NOT_FOUND, "upload link not found or expired")
        token = make_token(key_ring(), ticket.tenant_id, ticket.object_id, ticket.version)
        address = request.client.host if request.client else "unknown"
        digest = hashlib.sha256(token.encode()).hexdigest()[:32]
        verdict = await self.limiter.receipt_request(digest, address)
        if not verdict.allowed:
            return too_many_requests(verdict.retry_after)
        try:
            files = await self._files(request)
        except _TooManyFiles:
            return _user_error(400, CommonError.TOO_MANY, f"at most {uploads.MAX_FILES} files",
                               ["files"])
        try:
            async with receipt_unit(self.db, token) as uow:
                stored = await uploads.upload(uow, token, files, self.store)
        except DomainError as error:
            return _user_error(404 if isinstance(error, NotFound) else 400, error.code,
                               error.message, error.field)
        return JSONResponse({"files": [
            {"id": ids.encode("EvidenceFile", f.tenant_id, f.id), "type": f.type,
             "contentType": f.content_type, "filename": f.filename, "size": f.size,
             "sha256": f.sha256} for f in stored]}, status_code=201)

    async def _files(self, request: Request) -> list[uploads.Upload]:
        try:
            form = await request.form(max_files=uploads.MAX_FILES + 1, max_fields=10)
        except HTTPException as exc:  # over max_files, or not multipart at all
            if "files" in str(exc.detail).lower():
                raise _TooManyFiles from None
            return []
        found = []
        try:
            for value in form.getlist("files"):
                if isinstance(value, UploadFile):
                    found.append(uploads.Upload(value.filename or "", await value.read()))
        finally:
            await form.close()
        return found

    async def download(self, request: Request) -> Response:
        link = links.verify(request.path_params["link"], links.DOWNLOAD, utcnow())
        if link is None:
            return _not_found()
        async with self.db.unit_of_work(signed_link_scope(link.tenant_id),
                                        readonly=True) as uow:
            found = await uploads.download(uow, link.tenant_id, link.object_id, self.store)
        if found is None:
            return _not_found()
        name = quote(found.filename)
        return Response(found.data, media_type=found.content_type, headers={
            "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "Content-Disposition": f"attachment; filename*=UTF-8''{name}"})


class _TooManyFiles(Exception):
    pass
