"""X-Request-Id: accepted when well formed, replaced otherwise, echoed, and logged."""

from __future__ import annotations

import httpx
import pytest
import structlog

from qrefund.graphql_schema import ids
from qrefund.jobs.registry import QUEUE_MAINTENANCE, QUEUE_RELAY
from qrefund.jobs.runtime import queue
from qrefund.observability import context as observed
from tests.foundation.helpers import RECORD, txn_input
from tests.jobs.support import JobHarness
from tests.observability.conftest import CapturedLogs
from tests.support.world import World

VIEWER = "query Who { viewer { role } }"


async def test_a_well_formed_request_id_is_echoed_and_on_every_log_line(
        client: httpx.AsyncClient, world: World, captured_logs: CapturedLogs) -> None:
    # Given a client that names its request
    rid = "checkout-7f3a9c21"
    # When it calls the API (with an unknown field, so the API logs a client error)
    response = await client.post("/graphql", json={"query": "query Bad { nope }"},
                                 headers={"X-Request-Id": rid,
                                          "Authorization": f"Bearer {world.key('a')}"})
    # Then the response carries the id, and the request's log lines name it, the
    # caller's tenant and key, and the operation
    assert response.headers["x-request-id"] == rid
    mine = [r for r in captured_logs.records() if r.get("request_id") == rid]
    assert mine, captured_logs.text
    line = mine[-1]
    assert line["operation"] == "Bad"
    assert line["tenant_id"] == str(world.merchant_a)
    assert line["key_id"]


@pytest.mark.parametrize("given", ["", "short", "x" * 129, "bad id with spaces",
                                   "<script>alert(1)</script>", "ünïcode-12345"])
async def test_a_missing_or_malformed_request_id_is_replaced(
        client: httpx.AsyncClient, given: str) -> None:
    response = await client.get("/healthz", headers={"X-Request-Id": given.encode()})
    echoed = response.headers["x-request-id"]
    assert echoed != given and len(echoed) == 32 and echoed.isalnum()


async def test_the_log_context_does_not_leak_from_one_request_to_the_next(
        client: httpx.AsyncClient, world: World) -> None:
    await client.post("/graphql", json={"query": VIEWER},
                      headers={"Authorization": f"Bearer {world.key('a')}"})
    await client.get("/healthz")
    assert "tenant_id" not in structlog.contextvars.get_contextvars()


async def test_jobs_carry_the_request_id_that_enqueued_them_into_their_logs(
        client: httpx.AsyncClient, world: World, jobs: JobHarness,
        captured_logs: CapturedLogs) -> None:
    # Given a request that records a payment (its commit nudges the outbox relay)
    rid = "pos-terminal-0042-a"
    await client.post("/graphql", json={"query": RECORD, "variables": {"input": txn_input()}},
                      headers={"X-Request-Id": rid,
                               "Authorization": f"Bearer {world.key('a', 'INTEGRATION')}"})
    # Then the relay job it enqueued names the request in its meta
    (relay,) = jobs.queued(QUEUE_RELAY)
    assert relay.meta["request_id"] == rid
    # And a job enqueued while serving a request logs, in a worker, which request
    # enqueued it and which job it is
    observed.start_request(rid)
    try:
        job = queue(QUEUE_MAINTENANCE, jobs.redis).enqueue(
            "tests.observability.job_functions.say_hello", "pos")
    finally:
        structlog.contextvars.clear_contextvars()
    await jobs.drain((QUEUE_MAINTENANCE,))
    (line,) = [r for r in captured_logs.records() if r["event"] == "hello from the job, pos"]
    assert line["enqueued_by"] == rid and line["job_id"] == job.id


async def test_a_mutation_on_a_refund_case_names_the_case_in_its_log_lines(
        client: httpx.AsyncClient, world: World, captured_logs: CapturedLogs) -> None:
    case_id = ids.encode("RefundCase", world.merchant_a, world.merchant_a)  # no such case
    rid = "case-lookup-0001"
    await client.post("/graphql", json={
        "query": "mutation Cancel($i: CancelRefundInput!) { cancelRefund(input: $i) { "
                 "userErrors { code } } } query Bad { nope }",
        "operationName": "Cancel", "variables": {"i": {"id": case_id}}},
        headers={"X-Request-Id": rid, "Authorization": f"Bearer {world.key('a')}"})
    mine = [r for r in captured_logs.records() if r.get("request_id") == rid]
    assert mine and all(r["case_id"] == str(world.merchant_a) for r in mine), mine
