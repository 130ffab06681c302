"""``node(id)`` alone, answered without graphql-core's executor (``root_fields.py``),
answers exactly as the executor does: every request below goes through the same app
twice, once each way, and the two answers (status, media type, body) and the
client-error lines logged for them are compared in full."""

from __future__ import annotations

import base64
import dataclasses
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import strawberry

from qrefund.graphql_schema import ids, known_operations, node, root_fields
from qrefund.graphql_schema.view import QrefundGraphQL
from tests.foundation.test_key_cache import _view
from tests.foundation.test_known_operations import _answer
from tests.refunds.helpers import record_txn, submit
from tests.support.world import World

pytestmark = pytest.mark.postgres_only  # nodes are rendered on PostgreSQL only

CASE_FIELDS = "id caseNumber status requestedAmount { amount currency } createdAt"
TXN_FIELDS = "id merchantOrderNo amount { amount currency } status paidAt"
VAR = "query($id: ID!) { node(id: $id) { __typename ... on RefundCase { " + CASE_FIELDS + " } } }"
SWITCHED = ("query Q($id: ID!, $show: Boolean!) { n: node(id: $id) { ...F "
            "... on Node { id } ... @include(if: $show) { __typename } } }"
            " fragment F on RefundCase { caseNumber status @skip(if: $show) "
            " transaction { " + TXN_FIELDS + " } }")
TXN = "query($id: ID!) { node(id: $id) { ... on Transaction { " + TXN_FIELDS + " } } }"
NULLABLE = "query($id: ID) { node(id: $id) { id } }"
DEFAULTED = 'query($id: ID! = "GID") { node(id: $id) { id } }'  # GID: the id, in the text
LITERAL = '{ node(id: "GID") { __typename ... on RefundCase { caseNumber } } }'


def _documents(case_id: str, txn_id: str, other: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(document, variables): shapes the shortcut answers, and shapes it leaves."""
    yield VAR, {"id": case_id}
    yield VAR, {"id": txn_id}  # a payment selected through the case's fragment: {}
    yield VAR, {"id": other}  # another tenant's case
    yield VAR, {"id": "not-an-id"}
    yield VAR, {"id": ids.encode("Nothing", *ids.decode_any(case_id)[1])}  # unknown type
    yield VAR, {"id": ids.encode("RefundCase", ids.decode_any(case_id)[1][0])}  # one part
    yield VAR, {"id": base64.urlsafe_b64encode(b"RefundCase:x:y").decode()}
    yield VAR, {"id": "x" * 300}  # over the id's length
    yield VAR, {"id": case_id + "\x01"}  # refused by the input normalisation
    yield VAR, {"id": 5}  # an ID variable takes an integer
    yield VAR, {"id": 5.5}  # but not a float
    yield VAR, {"id": {"a": 1}}
    yield VAR, {}  # missing
    yield VAR, {"id": case_id, "extra": 1}  # an undeclared variable is ignored
    yield NULLABLE, {"id": None}
    yield NULLABLE, {}
    yield DEFAULTED.replace("GID", case_id), {}
    yield DEFAULTED.replace("GID", case_id), {"id": txn_id}
    for show in (True, False):
        yield SWITCHED, {"id": case_id, "show": show}
    yield SWITCHED, {"id": case_id}  # a switch missing
    yield TXN, {"id": txn_id}
    yield LITERAL.replace("GID", case_id), {}
    yield LITERAL.replace("GID", "nope"), {}
    # Shapes left to the executor.
    yield '{ node(id: 5) { id } }', {}
    yield '{ node(id: "GID") @include(if: true) { id } }'.replace("GID", case_id), {}
    yield "query($id: ID!) { node(id: $id) { id } viewer { role } }", {"id": case_id}
    yield "query($id: ID!) { ...R } fragment R on Query { node(id: $id) { id } }", {"id": case_id}
    yield "query($id: ID!) { node(id: $id) { ... on Tenant { name } } }", {"id": case_id}
    yield ("query($id: ID!) { node(id: $id) { ... on RefundCase { events(first: 2) "
           "{ edges { node { type } } } } } }"), {"id": case_id}  # a field without a recipe
    yield "query($id: ID!) { node(id: $id) { id } }", {"id": ids.encode(
        "Tenant", ids.decode_any(case_id)[1][0])}  # a type without recipes


@pytest.fixture
def view(app: Any) -> Iterator[QrefundGraphQL]:
    view = _view(app)
    known = view.known_operations
    assert known is not None and known.root_fields
    yield view
    view.known_operations = known


def _ways(view: QrefundGraphQL) -> tuple[Any, Any]:
    known = view.known_operations
    return dataclasses.replace(known, root_fields=False), known


@pytest.fixture
async def subjects(db: Any, world: World) -> tuple[str, str, str]:
    """(a case of merchant A, its payment, a case of merchant B) as global ids."""
    txn = await record_txn(db, world, "a")
    case = await submit(db, world, txn)
    theirs = await submit(db, world, await record_txn(db, world, "b"), who="b")
    return (ids.encode("RefundCase", case.tenant_id, case.id),
            ids.encode("Transaction", txn.tenant_id, txn.id),
            ids.encode("RefundCase", theirs.tenant_id, theirs.id))


async def test_every_answer_equals_the_executors(
        client: httpx.AsyncClient, world: World, view: QrefundGraphQL,
        subjects: tuple[str, str, str], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="qrefund")
    shortcut, answered = _ways(view)[1], 0
    for document, variables in _documents(*subjects):
        await _compare(client, world, view, caplog, "POST", document, variables)
        view.known_operations = shortcut
        answered += await _taken(view, document, variables, client, world)
    for variables in ({"id": subjects[0]}, [subjects[0]], "x"):  # GET: no body type check
        await _compare(client, world, view, caplog, "GET", VAR, variables)
    assert answered >= 15  # the comparison went through the shortcut, not around it


async def _compare(client: httpx.AsyncClient, world: World, view: QrefundGraphQL,
                   caplog: pytest.LogCaptureFixture, method: str, document: str,
                   variables: Any) -> None:
    """The request sent both ways: the same answer, the same client-error lines."""
    body = {"query": document, "variables": variables}
    answers = []
    for way in _ways(view):
        view.known_operations = way
        caplog.clear()
        answer = await _answer(client, method, world.key("a", "VIEWER"), body, None)
        lines = [r.getMessage() for r in caplog.records if "client error" in r.getMessage()]
        answers.append((answer, lines))
    assert answers[1] == answers[0], (method, document, variables)


async def _taken(view: QrefundGraphQL, document: str, variables: dict[str, Any],
                 client: httpx.AsyncClient, world: World) -> int:
    """1 when the shortcut answered the request, not the executor."""
    calls: list[str] = []
    original = known_operations._executed

    async def counted(*args: Any) -> Any:
        calls.append("executor")
        return await original(*args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(known_operations, "_executed", counted)
        await _answer(client, "POST", world.key("a", "VIEWER"),
                      {"query": document, "variables": variables}, None)
    return 0 if calls else 1


async def test_the_shortcut_answers_a_plain_node_and_leaves_the_rest(
        client: httpx.AsyncClient, world: World, view: QrefundGraphQL,
        subjects: tuple[str, str, str]) -> None:
    """The counter-check: the executor is not called for the usual one-node document,
    and is for another shape."""
    case_id = subjects[0]
    assert await _taken(view, VAR, {"id": case_id}, client, world) == 1
    assert await _taken(view, TXN, {"id": subjects[1]}, client, world) == 1
    both = "query($id: ID!) { node(id: $id) { id } viewer { role } }"
    assert await _taken(view, both, {"id": case_id}, client, world) == 0
    assert await _taken(view, VAR, {}, client, world) == 0


async def test_a_failed_read_is_the_fields_error_masked_and_logged_alike(
        client: httpx.AsyncClient, world: World, view: QrefundGraphQL,
        subjects: tuple[str, str, str], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    async def broken(*_args: Any) -> Any:
        raise RuntimeError("secret detail")

    renderer = node.RENDERED["RefundCase"]
    monkeypatch.setitem(node.RENDERED, "RefundCase",  # type: ignore[arg-type]
                        dataclasses.replace(renderer, read=broken))
    answers = []
    for way in _ways(view):
        view.known_operations = way
        caplog.clear()
        answers.append(await _answer(client, "POST", world.key("a", "VIEWER"),
                                     {"query": VAR, "variables": {"id": subjects[0]}}, None))
        assert "unexpected error" in caplog.text and "secret detail" in caplog.text
    assert answers[0] == answers[1]
    status, _kind, body = answers[1]
    assert status == 200 and body["data"] == {"node": None}
    assert body["errors"][0]["message"] == "Unexpected error."
    assert body["errors"][0]["path"] == ["node"]


def test_only_this_projects_node_field_is_answered(app: Any) -> None:
    """A schema whose ``node`` has another resolver gets no plan (the executor runs)."""

    @strawberry.type
    class Query:
        @strawberry.field
        def node(self, id: strawberry.ID) -> str:
            return id

    other = strawberry.Schema(query=Query)
    assert not root_fields._is_ours(other._schema)
    assert root_fields._is_ours(_view(app).schema._schema)  # type: ignore[attr-defined]
