"""GraphiQL from the application's own files: pinned, intact, nothing from a CDN."""

from __future__ import annotations

import base64
import hashlib
import re

import httpx

from qrefund.portal.graphiql import ASSETS, VERSIONS

# The sha384 strawberry-graphql's page pins for the same files on unpkg: ours are the
# published bytes, not a rebuild.
UPSTREAM_SRI = {
    "react.production.min.js":
        "tMH8h3BGESGckSAVGZ82T9n90ztNXxvdwvdM6UoR56cYcf+0iGXBliJ29D+wZ/x8",
    "react-dom.production.min.js":
        "bm7MnzvK++ykSwVJ2tynSE5TRdN+xL418osEVF2DE/L/gfWHj91J2Sphe582B1Bh",
    "graphiql.min.js": "HbRVEFG0JGJZeAHCJ9Xm2+tpknBQ7QZmNlO/DgZtkZ0aJSypT96YYGRNod99l9Ie",
    "graphiql.min.css": "Mq3vbRBY71jfjQAt/DcjxUIYY33ksal4cgdRt9U/hNPvHBCaT2JfJ/PTRiPKf0aM",
}


def test_vendored_files_match_their_recorded_checksums() -> None:
    recorded = {}
    for line in (ASSETS / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        recorded[name] = digest
    on_disk = {p.name for p in ASSETS.iterdir()} - {"SHA256SUMS", "README.md"}
    assert set(recorded) == on_disk, "every served file is recorded, and only those"
    for name, digest in recorded.items():
        assert hashlib.sha256((ASSETS / name).read_bytes()).hexdigest() == digest, name
    for name, sri in UPSTREAM_SRI.items():
        assert base64.b64encode(hashlib.sha384((ASSETS / name).read_bytes()).digest()
                                ).decode() == sri, name


def test_licences_are_kept_next_to_the_files() -> None:
    readme = (ASSETS / "README.md").read_text()
    for package, version in VERSIONS.items():
        assert f"{package}@{version}" in readme
        assert "MIT License" in (ASSETS / f"LICENSE.{package}").read_text()


async def test_graphql_in_a_browser_gets_the_local_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    html = response.text
    assert "unpkg" not in html and "cdn" not in html.lower() and "https://" not in html
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/static/portal/graphiql/") for s in sources)
    assert not re.search(r"<script>|<script [^>]*>[^<]", html), "no inline script"
    csp = response.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
    for src in sources:
        asset = await client.get(src)
        assert asset.status_code == 200, src
        name = src.split("/")[-1].split("?")[0]
        assert asset.content == (ASSETS / name).read_bytes()
        assert asset.headers["x-content-type-options"] == "nosniff"


async def test_api_calls_on_graphql_are_unchanged(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 200 and response.json() == {"data": {"__typename": "Query"}}


async def test_graphiql_off_in_production_stays_off(settings: object, db: object) -> None:
    from qrefund.app import create_app

    prod = settings.model_copy(update={"graphiql": False})  # type: ignore[attr-defined]
    app = create_app(prod, db)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://testserver") as c:
        response = await c.get("/graphql", headers={"accept": "text/html"})
    assert "graphiql.min.js" not in response.text
