"""Operations run past Strawberry's per-request frame (``known_operations.py``) answer
exactly as Strawberry's own path does: every request below is sent twice through the
same app, once each way, and the two answers (status, media type, body) compared in
full; an unexpected error's random id is the only thing set aside."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.view import QrefundGraphQL
from tests.foundation.helpers import record_txn
from tests.foundation.test_key_cache import _view
from tests.support.world import World

NODE = """query($id: ID!) { node(id: $id) { __typename id
  ... on Transaction { merchantOrderNo amount { amount currency } status } } }"""
FRAGMENTS = """query Page($n: Int!, $more: Boolean!) {
  a: transactions(first: $n) { edges { node { ...T } } pageInfo { hasNextPage } }
  b: transactions(first: 1) @include(if: $more) { edges { cursor } }
  viewer { role tenant { name } }
}
fragment T on Transaction { id merchantOrderNo status @skip(if: $more) }"""
TWO_OPERATIONS = "query A { viewer { role } } query B { __typename }"


def _requests(world: World, txn_id: str) -> Iterator[tuple[str, str, dict[str, Any], str | None]]:
    """(method, key, body, content type) of each request compared."""
    viewer, admin = world.key("a", "VIEWER"), world.key("a")
    other = ids.encode("Transaction", world.merchant_b, ids.scoped_id(txn_id, "Transaction")[1])
    yield "POST", viewer, {"query": NODE, "variables": {"id": txn_id}}, None
    yield "POST", world.key("b"), {"query": NODE, "variables": {"id": txn_id}}, None
    yield "POST", viewer, {"query": NODE, "variables": {"id": other}}, None
    yield "POST", viewer, {"query": NODE, "variables": {"id": "not-an-id"}}, None
    yield "POST", viewer, {"query": NODE, "variables": {}}, None  # a variable missing
    yield "POST", viewer, {"query": NODE, "variables": {"id": 5}}, None  # of the wrong type
    for more in (True, False):
        yield "POST", viewer, {"query": FRAGMENTS, "variables": {"n": 2, "more": more}}, None
    yield "POST", viewer, {"query": FRAGMENTS, "variables": {"n": -1, "more": True}}, None
    huge = "{ transactions(first: 100000) { edges { node { id } } } }"
    yield "POST", viewer, {"query": huge}, None
    yield "POST", viewer, {"query": "{ viewer { role nope } }"}, None  # invalid
    yield "POST", viewer, {"query": "{ viewer { role "}, None  # does not parse
    yield "POST", viewer, {"query": TWO_OPERATIONS}, None  # which one?
    yield "POST", viewer, {"query": TWO_OPERATIONS, "operationName": "B"}, None
    yield "POST", viewer, {"query": TWO_OPERATIONS, "operationName": "C"}, None
    yield "POST", viewer, {"query": "{ __typename }"}, "application/json; charset=utf-8"
    yield "GET", viewer, {"query": "{ viewer { role } }"}, None
    yield "GET", admin, {"query": "mutation { __typename }"}, None  # not over GET
    # A mutation refused with a user error, and one refused by its role.
    bad = {"merchantOrderNo": "x", "channel": "WECHAT_PAY", "providerReference": "p",
           "amount": "-1.00", "currency": "CNY", "status": "SUCCEEDED",
           "paidAt": "2026-11-01T10:00:00+08:00"}
    record = ("mutation($i: RecordTransactionInput!) { recordTransaction(input: $i) "
              "{ transaction { id } userErrors { code field message } } }")
    yield "POST", admin, {"query": record, "variables": {"i": bad}}, None
    yield "POST", viewer, {"query": record, "variables": {"i": bad}}, None
    yield "POST", "", {"query": "{ __typename }"}, None  # anonymous
    yield "POST", "", {"query": "{ viewer { role } }"}, None


async def _answer(client: httpx.AsyncClient, method: str, key: str, body: dict[str, Any],
                  kind: str | None) -> tuple[int, str, Any]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if method == "GET":
        params = {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}
        response = await client.get("/graphql", params=params, headers=headers)
    else:
        headers["Content-Type"] = kind or "application/json"
        response = await client.post("/graphql", content=json.dumps(body), headers=headers)
    answer = response.json()
    for error in answer.get("errors") or ():
        if "errorId" in (error.get("extensions") or {}):
            error["extensions"]["errorId"] = "<random>"
    return response.status_code, response.headers["content-type"], answer


@pytest.fixture
def view(app: Any) -> Iterator[QrefundGraphQL]:
    view = _view(app)
    known = view.known_operations
    assert known is not None  # the tests' schema has only the guard
    yield view
    view.known_operations = known


async def test_every_answer_equals_strawberrys_own(
        client: httpx.AsyncClient, world: World, view: QrefundGraphQL,
        caplog: pytest.LogCaptureFixture) -> None:
    """The answers, and the client-error lines the schema logs for them."""
    txn = await record_txn(client, world.key("a", "INTEGRATION"), merchantOrderNo="known-1")
    await record_txn(client, world.key("a", "INTEGRATION"), merchantOrderNo="known-2")
    known = view.known_operations
    caplog.set_level(logging.INFO, logger="qrefund")
    logged = 0
    for method, key, body, kind in _requests(world, txn["id"]):
        answers = []
        for way in (None, known):
            view.known_operations = way
            caplog.clear()
            answer = await _answer(client, method, key, body, kind)
            lines = [r.getMessage() for r in caplog.records if "client error" in r.getMessage()]
            answers.append((answer, lines))
            logged += len(lines)
        assert answers[1] == answers[0], (method, body)
    assert logged > 0  # the comparison saw client-error lines


async def test_an_unexpected_error_is_masked_and_logged_alike(
        client: httpx.AsyncClient, world: World, view: QrefundGraphQL,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from qrefund.graphql_schema.tenants import queries

    async def broken(_uow: Any) -> Any:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(queries, "own_tenant", broken)
    known = view.known_operations
    answers = []
    for way in (None, known):
        view.known_operations = way
        caplog.clear()
        answers.append(await _answer(client, "POST", world.key("a"),
                                     {"query": "{ viewer { role } }"}, None))
        assert "unexpected error" in caplog.text and "secret detail" in caplog.text
    assert answers[0] == answers[1]
    status, _kind, body = answers[1]
    assert status == 200
    assert body["errors"][0]["message"] == "Unexpected error."
    assert "secret detail" not in json.dumps(body)


async def test_a_known_document_skips_strawberrys_frame(
        client: httpx.AsyncClient, world: World, view: QrefundGraphQL,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The counter-check: Strawberry's ``Schema.execute`` is not called for a valid
    query, and is for one that does not validate."""
    calls = []
    schema: Any = view.schema
    original = schema.execute

    async def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs.get("operation_name"))
        return await original(*args, **kwargs)

    monkeypatch.setattr(schema, "execute", counted)
    key = world.key("a", "VIEWER")
    await _answer(client, "POST", key, {"query": "{ viewer { role } }"}, None)
    assert calls == []
    await _answer(client, "POST", key, {"query": "{ viewer { nope } }"}, None)
    assert len(calls) == 1
