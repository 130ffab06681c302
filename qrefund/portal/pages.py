"""Rendering a consumer page: language, CSRF token, security headers, rate limits."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from limits import RateLimitItem, parse
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from qrefund.platform.config import Settings
from qrefund.platform.crypto import load_key_ring
from qrefund.platform.ratelimit import RateLimiter
from qrefund.portal import formatting, i18n
from qrefund.portal.security import CSRF_FIELD, Csrf, apply_headers

_URLENCODED = "application/x-www-form-urlencoded"
_FORM_MAX_BYTES = 256 * 1024
TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


def _environment(locale: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,  # every template is HTML; nothing a consumer types is trusted
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(i18n.translations(locale), newstyle=True)  # type: ignore[attr-defined]
    env.filters["money"] = partial(formatting.money, locale=locale)
    env.filters["when"] = partial(formatting.when, locale=locale)
    return env


def _static_version() -> str:
    """A short hash of the stylesheet, so it can be cached for long and still change."""
    digest = hashlib.sha256((STATIC / "portal.css").read_bytes()).hexdigest()
    return digest[:10]


@dataclass(frozen=True)
class Budgets:
    address: RateLimitItem
    token: RateLimitItem
    otp_contact: RateLimitItem
    otp_address: RateLimitItem


class Pages:
    """What every consumer page needs; one per application."""

    def __init__(self, settings: Settings, limiter: RateLimiter) -> None:
        self.settings = settings
        self.limiter = limiter
        self.environments = {locale: _environment(locale) for locale in i18n.LOCALES}
        ring = load_key_ring(settings)
        # A key of its own for the CSRF MACs, derived from the platform's key.
        self.csrf = Csrf(bytes.fromhex(ring.blind_index("portal.csrf", "portal.keys")),
                         secure=settings.environment == "production")
        self.static_version = _static_version()
        self.budgets = Budgets(
            address=parse(settings.rate_limit_portal_address),
            token=parse(settings.rate_limit_portal_token),
            otp_contact=parse(settings.rate_limit_otp_contact),
            otp_address=parse(settings.rate_limit_otp_address),
        )

    @staticmethod
    def locale(request: Request) -> str:
        return i18n.negotiate(request.query_params.get("lang"),
                              request.cookies.get(i18n.COOKIE),
                              request.headers.get("accept-language"))

    @staticmethod
    def address(request: Request) -> str:
        return request.client.host if request.client else "unknown"

    def render(self, request: Request, template: str, *, status: int = 200,
               **context: Any) -> Response:
        locale = self.locale(request)
        token, new_cookie = self.csrf.token_for(request)
        env = self.environments[locale]
        html = env.get_template(template).render(
            lang=i18n.html_lang(locale), locale=locale, path=request.url.path,
            csrf_field=CSRF_FIELD, csrf_token=token, static_version=self.static_version,
            **context,
        )
        response = HTMLResponse(html, status_code=status)
        self.csrf.set_cookie(response, new_cookie)
        chosen = i18n.known(request.query_params.get("lang"))
        if chosen is not None:  # the visible switch: remember the choice
            response.set_cookie(i18n.COOKIE, chosen, max_age=365 * 24 * 3600,
                                samesite="lax", httponly=True, path="/")
        return apply_headers(response, self.settings)

    def not_found(self, request: Request) -> Response:
        """The one answer for a wrong, revoked or expired token, whatever the reason."""
        return self.render(request, "not_found.html", status=404)

    def too_many(self, request: Request, retry_after: int) -> Response:
        response = self.render(request, "too_many.html", status=429, retry_after=retry_after)
        response.headers["Retry-After"] = str(retry_after)
        return response

    def bad_form(self, request: Request) -> Response:
        """A POST without a valid CSRF token: nothing was done."""
        return self.render(request, "form_expired.html", status=403)

    async def refused(self, request: Request, token: str | None = None) -> Response | None:
        """The 429 page when the address (or the receipt token) has used its budget."""
        verdict = await self.limiter.hit(self.budgets.address, "portal.address",
                                         self.address(request))
        if verdict.allowed and token is not None:
            verdict = await self.limiter.hit(self.budgets.token, "portal.token", token[:128])
        return None if verdict.allowed else self.too_many(request, verdict.retry_after)

    async def upload_form(self, request: Request, *, max_files: int, max_bytes: int
                          ) -> tuple[dict[str, str], list[tuple[str | None, bytes]]] | None:
        """A multipart form with files, when its CSRF token is valid, else None.

        Text fields are capped at 64 KB each; of each file at most ``max_bytes + 1``
        bytes are read (enough to know it is too large). One file more than allowed
        is read too, so that the refusal can say why."""
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            return await self._as_upload(await self.form(request))
        try:
            form = await request.form(max_files=max_files + 1, max_fields=50,
                                      max_part_size=64 * 1024)
        except Exception:  # a malformed or over-long body: the same as a bad token
            return None
        fields: dict[str, str] = {}
        files: list[tuple[str | None, bytes]] = []
        for key, value in form.multi_items():
            if isinstance(value, str):
                fields.setdefault(key, value)
            elif value.filename:  # an empty file input sends a nameless, empty part
                files.append((value.filename, await value.read(max_bytes + 1)))
        if not self.csrf.valid(request, fields.get(CSRF_FIELD)):
            return None
        return fields, files

    @staticmethod
    async def _as_upload(fields: dict[str, str] | None
                         ) -> tuple[dict[str, str], list[tuple[str | None, bytes]]] | None:
        return None if fields is None else (fields, [])

    async def form(self, request: Request) -> dict[str, str] | None:
        """The submitted (url-encoded) form when its CSRF token is valid, else None.

        The first value of each field; the body is already capped by the app's
        body-size limit."""
        if not request.headers.get("content-type", "").startswith(_URLENCODED):
            return None
        declared = request.headers.get("content-length", "")
        if not declared.isdigit() or int(declared) > _FORM_MAX_BYTES:
            return None  # a text form is small; the receipt pages allow uploads' sizes
        try:
            body = (await request.body()).decode("utf-8")
        except UnicodeDecodeError:
            return None
        fields = {k: v[0] for k, v in parse_qs(body, max_num_fields=50).items()}
        if not self.csrf.valid(request, fields.get(CSRF_FIELD)):
            return None
        return fields
