"""/metrics: protected, and its values move with the work done."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from redis import Redis
from sqlalchemy import text

from qrefund.app import create_app
from qrefund.graphql_schema.websocket import KeySlots
from qrefund.jobs.registry import QUEUE_MAINTENANCE, QUEUES
from qrefund.jobs.runtime import queue
from qrefund.platform.clock import utcnow
from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from tests.foundation.helpers import record_txn
from tests.jobs.support import JobHarness
from tests.observability.scrape import scrape, value
from tests.refunds.api import mutate
from tests.support.graphql import ok
from tests.support.world import World

TOKEN = "metrics-token-0123456789"


async def _client(settings: Settings, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(settings, db))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def guarded(settings: Settings, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    async for c in _client(settings.model_copy(update={"metrics_token": TOKEN}), db):
        yield c


async def test_a_token_guards_metrics(guarded: httpx.AsyncClient) -> None:
    assert (await guarded.get("/metrics")).status_code == 401
    wrong = await guarded.get("/metrics", headers={"Authorization": "Bearer " + "x" * 24})
    assert wrong.status_code == 401
    assert await scrape(guarded, TOKEN)


async def test_production_without_a_token_has_no_metrics(settings: Settings, db: Database
                                                          ) -> None:
    production = settings.model_copy(update={"environment": "production"})
    async for c in _client(production, db):
        assert (await c.get("/metrics")).status_code == 404


async def test_requests_count_by_operation_and_outcome_with_their_sql(
        client: httpx.AsyncClient, world: World) -> None:
    before = await scrape(client)
    await ok(client, "query Who { viewer { role } }", key=world.key("a"))
    await client.post("/graphql", json={"query": "query Oops { nope }"},
                      headers={"Authorization": f"Bearer {world.key('a')}"})
    after = await scrape(client)
    for name, labels in (("qrefund_requests_total", {"operation": "Who", "outcome": "ok"}),
                         ("qrefund_requests_total",
                          {"operation": "Oops", "outcome": "graphql_error"}),
                         ("qrefund_request_duration_seconds_count", {"operation": "Who"}),
                         ("qrefund_request_sql_statements_count", {"operation": "Who"})):
        assert value(after, name, **labels) - value(before, name, **labels) == 1, (name, labels)
    # The key look-up ran SQL, and its time was counted
    sql = "qrefund_request_sql_statements_sum"
    assert value(after, sql, operation="Who") - value(before, sql, operation="Who") >= 1
    assert value(after, "qrefund_request_sql_duration_seconds_sum", operation="Who") > 0


async def test_client_chosen_operation_names_are_bounded(client: httpx.AsyncClient) -> None:
    await client.post("/graphql", json={"query": "{ __typename }", "operationName": "bad name!"})
    assert value(await scrape(client), "qrefund_requests_total", operation="bad name!",
                 outcome="client_error") == 0


async def test_queue_depth_and_oldest_job_age_are_read_from_redis(
        client: httpx.AsyncClient, redis_conn: Redis) -> None:
    maintenance = queue(QUEUE_MAINTENANCE, redis_conn)
    maintenance.enqueue("qrefund.jobs.relay.relay_events", [])
    maintenance.enqueue("qrefund.jobs.relay.relay_events", [])
    samples = await scrape(client)
    assert value(samples, "qrefund_queue_depth", queue=QUEUE_MAINTENANCE) == 2
    assert value(samples, "qrefund_queue_oldest_job_age_seconds", queue=QUEUE_MAINTENANCE) >= 0
    assert value(samples, "qrefund_scrape_errors", source="redis") == 0
    assert {q for (n, labels) in samples if n == "qrefund_queue_depth"
            for (_, q) in labels} == set(QUEUES)


async def test_outbox_lag_then_jobs_payouts_and_deadlines_move(
        client: httpx.AsyncClient, world: World, jobs: JobHarness, owner_engine: object) -> None:
    # Given a refund approved through the API, its events not yet relayed
    before = await scrape(client)
    txn = await record_txn(client, world.key("a", "INTEGRATION"), amount="50.00")
    case = (await mutate(client, "SubmitRefundRequest", world.key("a", "INTEGRATION"),
                         transactionId=txn["id"], amount="50.00", reason="QUALITY_ISSUE",
                         channel="API"))["refundCase"]
    waiting = await scrape(client)
    assert value(waiting, "qrefund_outbox_unrelayed_events") >= 2
    assert value(waiting, "qrefund_outbox_lag_seconds") >= 0
    # When the workers relay the events (deadline timers start) ...
    await jobs.drain(QUEUES)
    relayed = await scrape(client)
    # (the world's own events were written before the relay listened: they still wait)
    assert (value(relayed, "qrefund_outbox_unrelayed_events")
            <= value(waiting, "qrefund_outbox_unrelayed_events") - 2)
    ran = "qrefund_jobs_total"
    assert (value(relayed, ran, queue="relay", function="qrefund.jobs.relay.relay_events",
                  outcome="succeeded")
            > value(before, ran, queue="relay", function="qrefund.jobs.relay.relay_events",
                    outcome="succeeded"))
    # ... and the review deadline is made to have passed
    with owner_engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(text("UPDATE deadline_timers SET warn_at = :w, due_at = :d"),
                      {"w": utcnow() - timedelta(hours=2), "d": utcnow() - timedelta(hours=1)})
    late = await scrape(client)
    past = {labels: v for (name, labels), v in late.items()
            if name == "qrefund_deadlines_at_risk" and ("state", "past") in labels}
    assert sum(past.values()) >= 1 and all(("tier", "agency") in k for k in past), past
    # And an approval pays out through the sandbox: counted by channel and outcome
    agent = world.key("a", "REFUND_AGENT")
    for name in ("StartRefundReview", "ApproveRefund"):
        assert (await mutate(client, name, agent, id=case["id"]))["userErrors"] == []
    await jobs.drain(QUEUES)
    paid = await scrape(client)
    outcome = {"channel": "sandbox", "outcome": "SUCCEEDED"}
    assert (value(paid, "qrefund_payouts_total", **outcome)
            - value(before, "qrefund_payouts_total", **outcome)) == 1


async def test_rate_limit_refusals_are_counted(settings: Settings, db: Database,
                                               redis_conn: Redis) -> None:
    strict = settings.model_copy(update={"rate_limit_anonymous": "1/minute"})
    async for c in _client(strict, db):
        before = value(await scrape(c), "qrefund_rate_limit_refusals_total", budget="anon")
        for _ in range(3):
            await c.post("/graphql", json={"query": "{ __typename }"})
        after = value(await scrape(c), "qrefund_rate_limit_refusals_total", budget="anon")
        assert after - before == 2


async def test_open_subscriptions_are_a_gauge(client: httpx.AsyncClient) -> None:
    import uuid

    slots, key = KeySlots(5), uuid.uuid4()
    before = value(await scrape(client), "qrefund_subscriptions_open")
    assert slots.take(key) and slots.take(key)
    assert value(await scrape(client), "qrefund_subscriptions_open") - before == 2
    slots.give_back(key)
    slots.give_back(key)
    assert value(await scrape(client), "qrefund_subscriptions_open") == before


async def test_webhook_attempts_are_counted_by_outcome(client: httpx.AsyncClient) -> None:
    from qrefund.platform.webhooks import sender

    before = await scrape(client)
    refused = await sender.post("http://127.0.0.1:9/hook", b"{}", {}, timeout_seconds=2,
                                allow_private=False, https_only=False)
    unreachable = await sender.post("http://127.0.0.1:9/hook", b"{}", {}, timeout_seconds=2,
                                    allow_private=True, https_only=False)
    assert not refused.ok and not unreachable.ok
    after = await scrape(client)
    for outcome in ("refused_target", "no_response"):
        assert (value(after, "qrefund_webhook_deliveries_total", outcome=outcome)
                - value(before, "qrefund_webhook_deliveries_total", outcome=outcome)) == 1
    assert (value(after, "qrefund_webhook_delivery_duration_seconds_count")
            - value(before, "qrefund_webhook_delivery_duration_seconds_count")) == 2
