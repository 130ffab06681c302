"""GraphiQL at ``/graphql`` from the application's own files (``static/graphiql``).

Strawberry's page loads React and GraphiQL from unpkg: without internet (or behind
the Great Firewall, where unpkg is unreliable) it stays at "Loading…". The same
pinned versions are vendored here (see ``static/graphiql/README.md``) and the page
that loads them has no inline script, so it runs under a strict CSP.
"""

from __future__ import annotations

import hashlib

from jinja2 import Environment, FileSystemLoader
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from qrefund.graphql_schema.view import QrefundGraphQL
from qrefund.portal.pages import STATIC, TEMPLATES
from qrefund.portal.security import GRAPHIQL_CSP, apply_headers

VERSIONS = {"graphiql": "3.8.3", "react": "18.2.0", "react-dom": "18.2.0"}
ASSETS = STATIC / "graphiql"


def _page() -> str:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True)
    # The checksum file changes whenever a vendored file does: browsers refetch then.
    version = hashlib.sha256((ASSETS / "SHA256SUMS").read_bytes()).hexdigest()[:10]
    return env.get_template("graphiql.html").render(version=version)


class LocalGraphiQL(QrefundGraphQL):
    """The API endpoint, with its developer UI served from this application."""

    _page_html: str | None = None

    async def render_graphql_ide(self, request: Request) -> Response:  # type: ignore[override]
        if self._page_html is None:
            self._page_html = _page()
        return apply_headers(HTMLResponse(self._page_html), self.settings, GRAPHIQL_CSP)
