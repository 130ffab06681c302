"""Regression tests of the hardening audit, at the HTTP edge.

1  an anonymous request costs a cached parse: 401 before variables are coerced
3  a request holds one pooled connection at a time (pool of 1 + 1, concurrent writes)
5  no client value reaches a log; 12 expected client errors are INFO, not ERROR
9  the database lost after authentication is a 503 with Retry-After, not INTERNAL_ERROR
10 node(id) resolves a Notification for its owner
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from qrefund.app import create_app
from qrefund.graphql_schema import ids
from qrefund.platform.clock import utcnow
from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from qrefund.platform.notifications.models import Notification
from tests.foundation.helpers import RECORD, txn_input
from tests.support.graphql import gql
from tests.support.world import World

_ALIASES = " ".join(
    f'q{i}: transactions(first: 1, filter: {{amountMin: $a, currency: "CNY"}}) '
    "{ edges { node { id } } }" for i in range(20))
DOS_QUERY = f"query($a: Decimal) {{ {_ALIASES} }}"


async def test_anonymous_request_is_refused_before_its_variables_are_coerced(
    client: httpx.AsyncClient,
) -> None:
    # 1E+600000 took 11.5 s of CPU per alias to convert, before authentication.
    for value in ("1E+600000", "1E+999999", "9" * 100_000):
        response = await client.post("/graphql", json={"query": DOS_QUERY,
                                                       "variables": {"a": value}})
        assert response.status_code == 401, response.text
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("document", [
    "mutation { createAgency(input: {name: \"x\", slug: \"x\"}) { userErrors { code } } }",
    "query { ...F } fragment F on Query { viewer { role } }",
    "query { ... on Query { merchants { totalCount } } }",
    "subscription { refundCaseUpdates { cursor } }",
    "query A { __typename } query B { viewer { role } }",
])
async def test_anonymous_callers_reach_only_public_fields(
    client: httpx.AsyncClient, document: str
) -> None:
    name = "B" if "query B" in document else None
    response = await client.post("/graphql", json={"query": document, "operationName": name})
    assert response.status_code == 401, response.text


async def test_public_fields_and_typename_need_no_key(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={
        "query": 'query { __typename publicRefundPolicy(merchantSlug: "nobody") '
                 "{ merchantName } }"})
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query", "publicRefundPolicy": None}}


async def test_decimal_extremes_with_a_key_are_plain_errors(
    client: httpx.AsyncClient, world: World
) -> None:
    for value in ("1E+600000", "1E+999999"):
        body = await gql(client, DOS_QUERY, {"a": value}, key=world.key("a"))
        assert body["data"] is None
        assert "INTERNAL_ERROR" not in str(body)
        assert "no exponent" in body["errors"][0]["message"]


@pytest.fixture
async def small_pool_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An API process whose pool has one connection (plus one overflow)."""
    tight = settings.model_copy(update={"db_pool_size": 1, "db_pool_overflow": 1})
    database = Database(tight)
    transport = httpx.ASGITransport(app=create_app(tight, database))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
    await database.dispose()


@pytest.mark.postgres_only
async def test_concurrent_writes_never_deadlock_the_pool(
    small_pool_client: httpx.AsyncClient, world: World
) -> None:
    # Each request used to hold its authentication connection while its write took a
    # second one (and last_used_at a third): two writers waited on each other for 30 s.
    keys = [world.key(who, "INTEGRATION") for who in ("a", "b", "c")] * 2
    calls = [gql(small_pool_client, RECORD, {"input": txn_input(currency="JPY", amount="1200")
                                             if k == world.key("c", "INTEGRATION")
                                             else txn_input()}, key=k) for k in keys]
    results = await asyncio.wait_for(asyncio.gather(*calls), timeout=20)
    for body in results:
        assert body["data"]["recordTransaction"]["userErrors"] == [], body


SECRET_PHONE = "+8613700001234"
SECRET_ACCOUNT = "6222020200112233445"


async def test_client_errors_are_info_and_never_quote_client_values(
    client: httpx.AsyncClient, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = world.key("a")
    submit = """mutation($i: SubmitRefundRequestInput!) { submitRefundRequest(input: $i)
      { userErrors { code } } }"""
    # A variable that does not coerce (the message quotes the whole input).
    await gql(client, submit, {"i": {"transactionId": "x", "amount": "1.00",
                                     "contactPhone": SECRET_PHONE,
                                     "bankDestination": SECRET_ACCOUNT}}, key=key)
    # An inline literal of the wrong type.
    await gql(client, RECORD.replace("recordTransaction(input: $input)",
                                     f"recordTransaction(input: {{payerAccount: {SECRET_ACCOUNT}}})"
                                     ).replace("mutation($input: RecordTransactionInput!)",
                                               "mutation"), key=key)
    # Expected refusals: no key, page too large, bad cursor, bad key.
    await gql(client, "{ viewer { role } }", expect_status=401)
    await gql(client, "{ transactions(first: 1000) { totalCount } }", key=key)
    await gql(client, '{ transactions(after: "nope") { totalCount } }', key=key)
    await gql(client, "{ viewer { role } }", key="qr_x_" + "0" * 64 + "_nope", expect_status=401)
    logged = "\n".join(f"{r.levelname} {r.getMessage()} {r.exc_text or ''}"
                       for r in caplog.records)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], logged
    assert not [r for r in caplog.records if r.exc_info], logged
    assert SECRET_PHONE not in logged and SECRET_ACCOUNT not in logged
    assert "client error code=" in logged


@pytest.mark.postgres_only
async def test_database_lost_after_authentication_is_503(
    client: httpx.AsyncClient, world: World, owner_engine: Any
) -> None:
    # Given a payment whose row another session holds locked
    key = world.key("a", "INTEGRATION")
    body = await gql(client, RECORD, {"input": txn_input()}, key=key)
    txn_id = ids.scoped_id(body["data"]["recordTransaction"]["transaction"]["id"],
                           "Transaction")[1]
    submit = """mutation($i: SubmitRefundRequestInput!) { submitRefundRequest(input: $i)
      { refundCase { id } userErrors { code } } }"""
    variables = {"i": {"transactionId": ids.encode("Transaction", world.merchant_a, txn_id),
                       "amount": "1.00", "reason": "QUALITY_ISSUE", "channel": "API"}}
    with owner_engine.connect() as holder:  # type: ignore[attr-defined]
        holder.execute(text("SELECT 1 FROM transactions WHERE id = :id FOR UPDATE"),
                       {"id": txn_id})
        # When an authenticated request waits on it and its connection is then killed
        call = asyncio.create_task(client.post(
            "/graphql", json={"query": submit, "variables": variables},
            headers={"Authorization": f"Bearer {key}"}))
        for _ in range(200):
            await asyncio.sleep(0.05)
            # Only the backend of this request: this database, waiting on the row lock
            # this test holds (other test runs may share the server).
            killed = holder.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() "
                "AND pg_backend_pid() = ANY(pg_blocking_pids(pid))")).all()
            if killed:
                break
        response = await asyncio.wait_for(call, timeout=20)
        holder.rollback()
    # Then the client is told to retry later, not that the server broke
    assert killed, "the request never waited on the lock"
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "5"
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["SERVICE_UNAVAILABLE"]


async def test_node_resolves_a_notification_for_its_owner_only(
    client: httpx.AsyncClient, world: World, owner_engine: Any
) -> None:
    notification_id = uuid.uuid4()
    case_id = uuid.uuid4()
    with owner_engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(Notification.__table__.insert().values(  # type: ignore[attr-defined]
            tenant_id=world.merchant_a, id=notification_id, event_id=uuid.uuid4(),
            subject_type="refund_case", subject_id=case_id, event_type="refund_case.submitted",
            channel="EMAIL",
            recipient_masked="a***@x.cn", locale="en", template="submitted", subject="s",
            body="b", status="SENT", attempts=1, created_at=utcnow()))
    gid = ids.encode("Notification", world.merchant_a, notification_id)
    query = "query($id: ID!) { node(id: $id) { id ... on Notification { recipient status } } }"
    own = await gql(client, query, {"id": gid}, key=world.key("a", "VIEWER"))
    assert own["data"]["node"] == {"id": gid, "recipient": "a***@x.cn", "status": "SENT"}
    other = await gql(client, query, {"id": gid}, key=world.key("b"))
    assert other["data"]["node"] is None
