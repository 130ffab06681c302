""""My refunds" (``/my``): a consumer proves a phone number or e-mail address with a
one-time code and sees everything filed with it, at any merchant.

``GET /my`` asks for the contact (or, with a session, lists the filings);
``POST /my`` sends a code; ``POST /my/code`` redeems it and starts a 30-minute
session (an HttpOnly cookie holding the contact sealed by the key ring);
``POST /my/logout`` ends it.

Nothing tells whether a contact has filed anything: every well-formed contact gets
the same answer and a code (sent after the response, so the time taken is the same
too); only its holder then sees a list, possibly empty. Codes are budgeted per
contact and per client address, on top of the budget every page has.
"""

from __future__ import annotations

import logging

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from qrefund.platform import masking
from qrefund.platform.db import Database
from qrefund.platform.mycases import service as mycases
from qrefund.platform.notifications.models import Channel
from qrefund.platform.notifications.notifier import Notifier, NotifierError, OutgoingMessage
from qrefund.platform.otp import SESSION_SECONDS, Contact, OneTimeCodes
from qrefund.portal import i18n
from qrefund.portal.pages import Pages
from qrefund.portal.security import apply_headers
from qrefund.tenants.auth import contact_scope

log = logging.getLogger("qrefund.portal.my")
SESSION_COOKIE = "qrefund_my"


def masked(contact: Contact) -> str:
    return masking.email(contact.value) if contact.kind == "email" else masking.phone(
        contact.value)


class MyRefunds:
    def __init__(self, pages: Pages, db: Database, codes: OneTimeCodes,
                 notifiers: dict[Channel, Notifier]) -> None:
        self.pages = pages
        self.db = db
        self.codes = codes
        self.notifiers = notifiers

    def routes(self) -> list[Route]:
        return [
            Route("/my", self.start, methods=["GET"]),
            Route("/my", self.send, methods=["POST"]),
            Route("/my/code", self.verify, methods=["POST"]),
            Route("/my/logout", self.logout, methods=["POST"]),
        ]

    async def start(self, request: Request) -> Response:
        if (refusal := await self.pages.refused(request)) is not None:
            return refusal
        scope = contact_scope(self.codes, request.cookies.get(SESSION_COOKIE))
        if scope is None or scope.contact is None:
            return self.pages.render(request, "my_start.html", contact="", error=False)
        async with self.db.unit_of_work(scope, readonly=True) as uow:
            found = await mycases.filings(uow)
        return self.pages.render(request, "my_list.html", filings=found,
                                 masked=masked(scope.contact))

    async def send(self, request: Request) -> Response:
        if (refusal := await self.pages.refused(request)) is not None:
            return refusal
        form = await self.pages.form(request)
        if form is None:
            return self.pages.bad_form(request)
        contact = Contact.parse(form.get("contact"))
        if contact is None:
            return self.pages.render(request, "my_start.html", status=400, error=True,
                                     contact=(form.get("contact") or "")[:254])
        budgets, limiter = self.pages.budgets, self.pages.limiter
        verdict = await limiter.hit(budgets.otp_address, "otp.address",
                                    self.pages.address(request))
        if verdict.allowed:
            verdict = await limiter.hit(budgets.otp_contact, "otp.contact",
                                        self.codes.budget_key(contact))
        if not verdict.allowed:
            return self.pages.too_many(request, verdict.retry_after)
        code = await self.codes.issue(contact)
        response = self._code_page(request, contact, error=False)
        response.background = BackgroundTask(self._deliver, contact, code,
                                             self.pages.locale(request))
        return response

    async def verify(self, request: Request) -> Response:
        if (refusal := await self.pages.refused(request)) is not None:
            return refusal
        form = await self.pages.form(request)
        if form is None:
            return self.pages.bad_form(request)
        contact = Contact.parse(form.get("contact"))
        if contact is None:
            return self.pages.render(request, "my_start.html", status=400, error=True,
                                     contact="")
        if not await self.codes.redeem(contact, form.get("code") or ""):
            return self._code_page(request, contact, error=True, status=400)
        response = apply_headers(RedirectResponse("/my", status_code=303),
                                 self.pages.settings)
        response.set_cookie(SESSION_COOKIE, self.codes.seal_session(contact),
                            max_age=SESSION_SECONDS, httponly=True, samesite="strict",
                            secure=self.pages.settings.environment == "production", path="/my")
        return response

    async def logout(self, request: Request) -> Response:
        if await self.pages.form(request) is None:
            return self.pages.bad_form(request)
        response = apply_headers(RedirectResponse("/my", status_code=303),
                                 self.pages.settings)
        response.delete_cookie(SESSION_COOKIE, path="/my")
        return response

    def _code_page(self, request: Request, contact: Contact, *, error: bool,
                   status: int = 200) -> Response:
        return self.pages.render(request, "my_code.html", status=status, error=error,
                                 contact=contact.value, masked=masked(contact),
                                 minutes=self.codes.ttl // 60)

    async def _deliver(self, contact: Contact, code: str, locale: str) -> None:
        """Send the code in the visitor's language (after the response has gone)."""
        text = i18n.translations(locale)
        minutes = self.codes.ttl // 60
        body = text.gettext("Your refund service code is %(code)s. It is valid for "
                            "%(minutes)s minutes. Do not share it with anyone.") % {
            "code": code, "minutes": minutes}
        channel = Channel.EMAIL if contact.kind == "email" else Channel.SMS
        message = OutgoingMessage(
            to=contact.value, body=body, to_masked=masked(contact),
            subject=text.gettext("Your one-time code") if channel == Channel.EMAIL else None)
        try:
            await self.notifiers[channel].send(message)
        except NotifierError as exc:  # the consumer can ask again; no contact in the log
            log.warning("one-time code to %s not sent: %s", masked(contact), exc)
