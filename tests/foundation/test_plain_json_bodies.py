"""A plain JSON POST body is read by the view itself (``QrefundGraphQL.parse_http_body``,
orjson through ``decode_json``): every body below is sent twice through the same app,
once read there and once by Strawberry's own parsing, and the answers (status, media
type, body) compared in full."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from qrefund.graphql_schema.view import QrefundGraphQL
from tests.foundation.test_key_cache import _view
from tests.support.world import World

NODE = "query($id: ID!) { node(id: $id) { __typename id } }"


def _bodies() -> Iterator[tuple[bytes, str]]:
    """(raw body, content type) of each request compared."""
    def dumped(body: Any) -> bytes:
        return json.dumps(body).encode()

    yield dumped({"query": "{ viewer { role } }"}), "application/json"
    for kind in ("application/json; charset=utf-8", "application/json;charset=utf-8",
                 "application/json; charset=UTF-8", "Application/JSON",
                 "application/json; charset=latin-1", "application/graphql-response+json",
                 "text/plain", "application/x-www-form-urlencoded"):
        yield dumped({"query": "{ viewer { role } }"}), kind
    yield dumped({"query": NODE, "variables": {"id": "x"}, "operationName": None,
                  "extensions": {"a": 1}}), "application/json"
    yield dumped({"query": "{ __typename }", "operationName": 5}), "application/json"
    yield dumped({"query": None}), "application/json"
    yield dumped({}), "application/json"
    yield dumped({"query": 5}), "application/json"
    yield dumped({"query": ["{ __typename }"]}), "application/json"
    yield dumped({"query": NODE, "variables": ["x"]}), "application/json"
    yield dumped({"query": NODE, "variables": "x"}), "application/json"
    yield dumped({"query": "{ __typename }", "extensions": "x"}), "application/json"
    yield dumped([{"query": "{ __typename }"}]), "application/json"  # a batch
    yield b"", "application/json"
    yield b"{", "application/json"
    # What orjson refuses and the standard parser takes: the same answers.
    yield b'{"query": "query($id: ID!) { node(id: $id) { id } }", "variables": {"id": ' \
          b'123456789012345678901234567890}}', "application/json"
    yield b'{"query": "{ __typename }", "variables": {"x": NaN}}', "application/json"
    yield b'{"query": "{ __typename }", "extensions": {"s": "\\ud800"}}', "application/json"
    yield b"\xef\xbb\xbf" + dumped({"query": "{ __typename }"}), "application/json"
    yield json.dumps({"query": "{ __typename }"}).encode("utf-16"), "application/json"
    # Duplicate keys: the last one, both ways.
    yield b'{"query": "{ nope }", "query": "{ __typename }"}', "application/json"


async def _answer(client: httpx.AsyncClient, key: str, body: bytes, kind: str,
                  accept: str = "application/json") -> tuple[int, str, Any]:
    response = await client.post("/graphql", content=body, headers={
        "Authorization": f"Bearer {key}", "Content-Type": kind, "Accept": accept})
    return response.status_code, response.headers.get("content-type", ""), response.text


@pytest.fixture
def view(app: Any) -> Iterator[QrefundGraphQL]:
    view = _view(app)
    assert not view.streams  # no streaming protocol: plain bodies are read by the view
    yield view
    view.streams = False


async def test_every_body_is_answered_as_strawberrys_parsing_answers_it(
        client: httpx.AsyncClient, world: World, view: QrefundGraphQL) -> None:
    key = world.key("a", "VIEWER")
    statuses, refused = set(), 0
    for body, kind in _bodies():
        answers = []
        for streams in (True, False):  # True: Strawberry's own parsing
            view.streams = streams
            answers.append(await _answer(client, key, body, kind))
        assert answers[1] == answers[0], (body, kind)
        statuses.add(answers[0][0])
        refused += '"errors"' in answers[0][2]
    assert {200, 415} <= statuses and refused > 10  # it saw answers and refusals


@pytest.mark.parametrize("body", [b'"{ __typename }"', b"null", b"5", b"true"])
@pytest.mark.parametrize("kind", ["application/json", "application/json; charset=latin-1"])
async def test_json_that_is_not_an_object_is_a_bad_request(
        client: httpx.AsyncClient, world: World, body: bytes, kind: str) -> None:
    """Regression: Strawberry's parsing answered these with a 500 (``str`` has no
    ``get``)."""
    status, _kind, text = await _answer(client, world.key("a", "VIEWER"), body, kind,
                                        "application/graphql-response+json")
    assert status == 400
    assert json.loads(text)["errors"][0]["message"] == "the request body must be a JSON object"


async def test_a_plain_body_skips_strawberrys_parsing(
        client: httpx.AsyncClient, world: World, view: QrefundGraphQL,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The counter-check: Strawberry's parsing is not called for a plain body, and is
    for a batch."""
    calls = []
    original = QrefundGraphQL.__mro__[1].parse_http_body

    async def counted(self: Any, request: Any) -> Any:
        calls.append(request.method)
        return await original(self, request)

    monkeypatch.setattr(QrefundGraphQL.__mro__[1], "parse_http_body", counted)
    key = world.key("a", "VIEWER")
    status, _kind, text = await _answer(client, key, b'{"query": "{ viewer { role } }"}',
                                        "application/json")
    assert (status, json.loads(text)) == (200, {"data": {"viewer": {"role": "VIEWER"}}})
    assert calls == []
    await _answer(client, key, b'[{"query": "{ __typename }"}]', "application/json")
    assert calls == ["POST"]
