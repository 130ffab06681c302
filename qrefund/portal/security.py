"""Security of the consumer pages: response headers and CSRF tokens.

Headers: a Content-Security-Policy that allows scripts and styles from this origin
only (no inline script anywhere; GraphiQL's page gets inline *styles*, which React
components set), no framing, no referrer (receipt tokens are in our URLs and must
not leak to other sites), no MIME sniffing, and HSTS in production.

CSRF: signed double-submit. A random value lives in an HttpOnly, SameSite=Strict
cookie; each form carries ``HMAC(key, value)``. A POST passes when the form's token
is the MAC of the cookie it came with. Signing (rather than repeating the raw
value) means a cookie planted by a sibling subdomain cannot be paired with a form
token the attacker made up.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

from qrefund.platform.config import Settings

CSRF_COOKIE = "qrefund_csrf"
CSRF_FIELD = "csrf"
_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
# GraphiQL: its own scripts only, but React and CodeMirror set style attributes, and it
# fetches /graphql (and opens a socket to it for subscriptions).
GRAPHIQL_CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
                "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


def apply_headers(response: Response, settings: Settings, csp: str = _CSP) -> Response:
    response.headers["Content-Security-Policy"] = csp
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers.setdefault("Cache-Control", "no-store")
    if settings.environment == "production":
        response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return response


class Csrf:
    """Issues and checks the form tokens of one application."""

    def __init__(self, key: bytes, *, secure: bool) -> None:
        self._key = key
        self._secure = secure

    def _mac(self, value: str) -> str:
        return hmac.new(self._key, f"csrf:{value}".encode(), hashlib.sha256).hexdigest()

    def token_for(self, request: Request) -> tuple[str, str | None]:
        """The form token for this visitor, and a new cookie value if they had none."""
        value = request.cookies.get(CSRF_COOKIE)
        if value and 20 <= len(value) <= 64:
            return self._mac(value), None
        value = secrets.token_urlsafe(32)
        return self._mac(value), value

    def set_cookie(self, response: Response, value: str | None) -> None:
        if value is not None:
            response.set_cookie(CSRF_COOKIE, value, httponly=True, samesite="strict",
                                secure=self._secure, path="/")

    def valid(self, request: Request, submitted: object) -> bool:
        value = request.cookies.get(CSRF_COOKIE)
        if not value or not isinstance(submitted, str) or len(submitted) != 64:
            return False
        return hmac.compare_digest(self._mac(value), submitted)
