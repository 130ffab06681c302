"""Health checks, masked unexpected errors, query limits, the database being down."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from qrefund.app import create_app
from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from qrefund.platform.transactions import service
from tests.foundation.helpers import RECORD, row_counts, txn_input
from tests.support.graphql import gql, ok
from tests.support.world import World

DEAD_DB = "postgresql+psycopg://qrefund@127.0.0.1:1/nowhere"


@pytest.fixture
async def dead_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An app whose database cannot be reached."""
    app = create_app(settings.model_copy(update={"database_url": DEAD_DB}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
    await app.state.db.dispose()


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).text == "ok"
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "up", "redis": "up"}


async def test_readyz_is_503_when_the_database_is_down(dead_client: httpx.AsyncClient) -> None:
    assert (await dead_client.get("/healthz")).status_code == 200  # alive, just not ready
    ready = await dead_client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "database": "down"}


async def test_graphql_is_503_when_the_database_is_down(
    dead_client: httpx.AsyncClient, world: World
) -> None:
    response = await dead_client.post(
        "/graphql",
        json={"query": "{ viewer { role } }"},
        headers={"Authorization": f"Bearer {world.key('a')}"},
    )
    assert response.status_code == 503
    assert response.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert "psycopg" not in response.text and "127.0.0.1" not in response.text


async def test_graphiql_and_root(client: httpx.AsyncClient) -> None:
    page = await client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    root = await client.get("/", follow_redirects=False)
    assert root.status_code in (302, 307) and root.headers["location"] == "/graphql"


def _assert_masked(body: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    error = body["errors"][0]
    assert error["message"] == "Unexpected error."
    assert error["extensions"]["code"] == "INTERNAL_ERROR"
    error_id = error["extensions"]["errorId"]
    assert re.fullmatch(r"[0-9a-f]{32}", error_id)
    text = str(body)
    for leak in ("SELECT", "Traceback", "secret_table", 'File "', "RuntimeError"):
        assert leak not in text, text
    logged = [r for r in caplog.records if error_id in r.getMessage()]
    assert logged and logged[0].exc_info is not None  # the operator can find the traceback


async def test_unexpected_query_error_is_masked(
    client: httpx.AsyncClient,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("SELECT password FROM secret_table")

    monkeypatch.setattr(service, "list_page", broken)
    caplog.set_level(logging.ERROR, logger="qrefund.graphql")
    body = await gql(client, "{ transactions { edges { cursor } } }", key=world.key("a"))
    assert body["data"] is None
    _assert_masked(body, caplog)


async def test_unexpected_mutation_error_is_masked_and_rolled_back(
    client: httpx.AsyncClient,
    world: World,
    owner_engine: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    real_record = service.record

    async def fails_after_writing(uow: Any, cmd: Any) -> Any:
        await real_record(uow, cmd)
        await uow._session.flush()  # the row and its event are written ...
        raise RuntimeError("SELECT password FROM secret_table")  # ... then something breaks

    monkeypatch.setattr(service, "record", fails_after_writing)
    caplog.set_level(logging.ERROR, logger="qrefund.graphql")
    before = row_counts(owner_engine)
    body = await gql(client, RECORD, {"input": txn_input()}, key=world.key("a"))
    assert body["data"] is None
    _assert_masked(body, caplog)
    assert row_counts(owner_engine) == before


@pytest.fixture
async def tight_client(settings: Settings, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    tight = settings.model_copy(
        update={"max_query_depth": 3, "max_aliases": 2, "max_query_tokens": 100}
    )
    transport = httpx.ASGITransport(app=create_app(tight, db))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        (
            "{ transactions { edges { node { merchant { slug } } } } }",
            "exceeds maximum operation depth",
        ),
        ("{ a: viewer { role } b: viewer { role } c: viewer { role } }", "aliases found"),
        ("{ viewer { role " + "__typename " * 120 + "} }", "more than 100 tokens"),
        (
            "query Deep { ...F } fragment F on Query { transactions { edges { node { merchant "
            "{ slug } } } } }",
            "exceeds maximum operation depth",
        ),
    ],
    ids=["depth", "aliases", "tokens", "depth-through-fragment"],
)
async def test_query_limits(
    tight_client: httpx.AsyncClient, world: World, query: str, fragment: str
) -> None:
    body = await gql(tight_client, query, key=world.key("a"))
    assert body["data"] is None
    assert fragment in body["errors"][0]["message"], body


async def test_queries_within_the_limits_run(tight_client: httpx.AsyncClient, world: World) -> None:
    data = await ok(
        tight_client, "{ a: viewer { role } b: viewer { tenant { slug } } }", key=world.key("a")
    )
    assert data["a"]["role"] == "ADMIN"


async def test_default_alias_limit(client: httpx.AsyncClient, world: World, settings: Any) -> None:
    many = " ".join(f"v{i}: viewer {{ role }}" for i in range(settings.max_aliases + 1))
    body = await gql(client, f"{{ {many} }}", key=world.key("a"))
    assert body["data"] is None and "aliases found" in body["errors"][0]["message"]


async def test_a_repeated_query_is_validated_once(
        client: httpx.AsyncClient, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The limits must not defeat the validation cache (it once re-validated every request)."""
    from qrefund.graphql_schema import operation_guard

    validated: list[Any] = []

    def counted(*args: Any) -> Any:
        validated.append(args[1])
        return real(*args)

    real = operation_guard.validate_document
    monkeypatch.setattr(operation_guard, "validate_document", counted)
    query = "{ validatedOnce: viewer { role tenant { slug } } }"  # no other test asks it
    await ok(client, query, key=world.key("a"))
    await ok(client, query, key=world.key("b"))
    assert len(validated) == 1
