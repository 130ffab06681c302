"""The consumer's pages: the receipt page ``/r/<token>``, "my refunds" ``/my``, and the
locally served GraphiQL.

Server-rendered HTML (Jinja2, autoescaped), zh-CN first and English on request
(gettext catalogs under ``translations/``, managed with Babel: ``scripts/i18n-*``),
one small stylesheet, no script of its own. Every response carries the security
headers of :mod:`qrefund.portal.security`; forms carry a signed CSRF token.
"""
