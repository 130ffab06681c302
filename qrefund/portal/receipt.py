"""The receipt page ``/r/<token>``: the payment, the policy, the consumer's refund
requests and complaints, and the forms that act on them.

Every handler opens a unit of work in the receipt scope of the token and calls one
function of :mod:`qrefund.platform.consumer.service`; a forged, revoked, superseded
or expired token is the same plain 404. Forms post back here (CSRF-checked) and
redirect to the page (post/redirect/get), which then says what happened; a refusal
re-renders the page with the reason in the consumer's language.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from qrefund.platform.clock import utcnow
from qrefund.platform.complaints.vocabulary import ComplaintCategory
from qrefund.platform.consumer import service as consumer
from qrefund.platform.consumer import uploads
from qrefund.platform.consumer.access import receipt_unit, scope_for
from qrefund.platform.consumer.storage import EvidenceStore
from qrefund.platform.db import Database, UnitOfWork
from qrefund.platform.errors import DomainError, NotFound
from qrefund.platform.vocabulary import RefundMethod, RefundReason, RequestChannel
from qrefund.portal import i18n, wording
from qrefund.portal.pages import Pages
from qrefund.portal.security import apply_headers
from qrefund.tenants.service import get_tenant

_FINAL = frozenset({"REJECTED", "REFUNDED", "CANCELLED", "PAYOUT_FAILED"})
Action = Callable[[UnitOfWork, str], Awaitable[Any]]


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


class ReceiptPages:
    def __init__(self, pages: Pages, db: Database, store: EvidenceStore) -> None:
        self.pages = pages
        self.db = db
        self.store = store

    def routes(self) -> list[Route]:
        return [
            Route("/r/{token}", self.show, methods=["GET"]),
            Route("/r/{token}/refund", self.apply, methods=["POST"]),
            Route("/r/{token}/cases/{item}/info", self.info, methods=["POST"]),
            Route("/r/{token}/cases/{item}/cancel", self.cancel, methods=["POST"]),
            Route("/r/{token}/complaints", self.complain, methods=["POST"]),
            Route("/r/{token}/complaints/{item}/rate", self.rate, methods=["POST"]),
        ]

    # -- the page ---------------------------------------------------------------------

    async def show(self, request: Request) -> Response:
        token = request.path_params["token"]
        if (refusal := await self.pages.refused(request, token)) is not None:
            return refusal
        done = request.query_params.get("done")
        return await self._page(request, token, notice=wording.done(self._text(request), done))

    async def _page(self, request: Request, token: str, *, status: int = 200,
                    notice: str | None = None, error: str | None = None,
                    form: dict[str, str] | None = None) -> Response:
        scope = scope_for(token)
        if scope is None or scope.actor_tenant_id is None:
            return self.pages.not_found(request)
        locale = i18n.html_lang(self.pages.locale(request))
        try:
            async with receipt_unit(self.db, token, readonly=True) as uow:
                view = await consumer.receipt(uow, token, locale=locale)
                timezone = (await get_tenant(uow, scope.actor_tenant_id)).timezone
        except NotFound:
            return self.pages.not_found(request)
        policy = view.policy
        # Signed, expiring links to each file (served by /evidence/<link>).
        files = {e.id: uploads.download_link(c.tenant_id, e.id, base_url="")
                 for c in view.refund_cases for e in c.evidence}
        open_window = view.transaction.refundable.minor > 0 and (
            policy.refund_window_ends_at > utcnow())
        return self.pages.render(
            request, "receipt.html", status=status, view=view, token=token, tz=timezone,
            notice=notice, error=error, form=form or {}, upload=True, files=files,
            can_apply=open_window,
            can_complain=any(c.status in _FINAL for c in view.refund_cases),
            reasons=list(policy.allowed_reasons or [r.value for r in RefundReason]))

    def _text(self, request: Request) -> Any:
        return i18n.translations(self.pages.locale(request))

    # -- the forms --------------------------------------------------------------------

    async def _act(self, request: Request, done: str, action: Action,
                   form: dict[str, str] | None = None) -> Response:
        """Run ``action`` in the receipt's unit; 303 to the page, or the page with the
        refusal (nothing written: the unit rolled back)."""
        token = request.path_params["token"]
        try:
            async with receipt_unit(self.db, token) as uow:
                await action(uow, token)
        except NotFound as exc:
            if exc.field == ["receiptToken"]:
                return self.pages.not_found(request)
            return await self._refused(request, token, exc, form)
        except DomainError as exc:
            return await self._refused(request, token, exc, form)
        response = RedirectResponse(f"/r/{token}?done={done}", status_code=303)
        return apply_headers(response, self.pages.settings)

    async def _refused(self, request: Request, token: str, exc: DomainError,
                       form: dict[str, str] | None) -> Response:
        return await self._page(request, token, status=400, form=form,
                                error=wording.refusal(self._text(request), exc))

    async def _form(self, request: Request) -> tuple[dict[str, str] | None, Response | None]:
        token = request.path_params["token"]
        if (refusal := await self.pages.refused(request, token)) is not None:
            return None, refusal
        form = await self.pages.form(request)
        if form is None:
            return None, self.pages.bad_form(request)
        return form, None

    async def apply(self, request: Request) -> Response:
        token = request.path_params["token"]
        if (refusal := await self.pages.refused(request, token)) is not None:
            return refusal
        submitted = await self.pages.upload_form(request, max_files=uploads.MAX_FILES,
                                                 max_bytes=uploads.MAX_FILE_BYTES)
        if submitted is None:
            return self.pages.bad_form(request)
        form, files = submitted
        try:
            cmd = consumer.ApplyForRefund(
                amount=Decimal(form.get("amount", "").strip()),
                reason=RefundReason(form.get("reason", "")),
                description=form.get("description") or None,
                method=RefundMethod(form["method"]) if form.get("method") else None,
                bank_destination=form.get("bank_destination") or None,
                contact_phone=form.get("contact_phone") or None,
                contact_email=form.get("contact_email") or None,
                channel=RequestChannel.POS_QR)
        except (InvalidOperation, ValueError):
            return await self._refused(request, token,
                                       DomainError("check the amount and the reason"), form)
        except DomainError as exc:
            return await self._refused(request, token, exc, form)

        async def run(uow: UnitOfWork, token: str) -> None:
            # The files and the request in one unit: a refused request keeps no file rows.
            stored = (await uploads.upload(uow, token, [uploads.Upload(name or "", data)
                                                        for name, data in files], self.store)
                      if files else [])
            await consumer.apply_for_refund(uow, token, replace(
                cmd, evidence_ids=[f.id for f in stored]))

        return await self._act(request, "submitted", run, form)

    async def info(self, request: Request) -> Response:
        form, refusal = await self._form(request)
        if form is None:
            return refusal or self.pages.bad_form(request)
        case_id = _uuid(request.path_params["item"])

        async def run(uow: UnitOfWork, token: str) -> None:
            if case_id is None:
                raise NotFound("refund case not found", field=["id"])
            await consumer.provide_info(uow, token, case_id, message=form.get("message", ""))

        return await self._act(request, "answered", run)

    async def cancel(self, request: Request) -> Response:
        form, refusal = await self._form(request)
        if form is None:
            return refusal or self.pages.bad_form(request)
        case_id = _uuid(request.path_params["item"])

        async def run(uow: UnitOfWork, token: str) -> None:
            if case_id is None:
                raise NotFound("refund case not found", field=["id"])
            await consumer.cancel(uow, token, case_id)

        return await self._act(request, "cancelled", run)

    async def complain(self, request: Request) -> Response:
        form, refusal = await self._form(request)
        if form is None:
            return refusal or self.pages.bad_form(request)

        async def run(uow: UnitOfWork, token: str) -> None:
            try:
                category = ComplaintCategory(form.get("category", ""))
            except ValueError:
                raise DomainError("choose what the complaint is about",
                                  field=["category"]) from None
            await consumer.open_complaint(uow, token, consumer.FileComplaint(
                category=category, description=form.get("description", ""),
                channel=RequestChannel.WEB))

        return await self._act(request, "complained", run, form)

    async def rate(self, request: Request) -> Response:
        form, refusal = await self._form(request)
        if form is None:
            return refusal or self.pages.bad_form(request)
        ticket_id = _uuid(request.path_params["item"])

        async def run(uow: UnitOfWork, token: str) -> None:
            if ticket_id is None:
                raise NotFound("complaint ticket not found", field=["id"])
            rating = form.get("rating", "")
            if not rating.isdigit():
                raise DomainError("choose 1 to 5", field=["rating"])
            await consumer.rate_complaint(uow, token, ticket_id, rating=int(rating))

        return await self._act(request, "rated", run)

