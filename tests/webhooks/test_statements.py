"""What the webhook paths cost in SQL statements, counted on the real database.

* The delivery log (with every attempt and the endpoint of each delivery) is a fixed
  number of statements whatever the page size: the GraphQL layer batches by keys.
* One event's fan-out, a claim and an outcome each take a fixed number of statements
  (counted inside the unit of work, its writes flushed), however many endpoints and
  tenants the event reaches.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from qrefund.jobs import runtime
from qrefund.platform.clock import utcnow
from qrefund.platform.db import Database
from qrefund.platform.webhooks import delivery
from qrefund.tenants.auth import authenticate
from tests.support.graphql import ok
from tests.support.world import World
from tests.webhooks.api import created
from tests.webhooks.support import FAILED, SUCCEEDED, attempt, counting, emit

# Writes made-up outbox events to exercise delivery itself.
pytestmark = pytest.mark.synthetic_events

URL = "http://127.0.0.1:9/hooks"
PAGE = """query($e: ID!, $first: Int) {
  webhookDeliveries(endpointId: $e, first: $first) { totalCount edges { node {
    id eventId status attempt error payload endpointId
    endpoint { id url status owner { slug } merchant { slug } }
    attempts { number trigger outcome statusCode error responseExcerpt startedAt }
  } } } }"""
# Measured before the webhooks domain moved to repositories; they must not grow.
# Fan-out to 3 endpoints: the event, 3 tenant levels, the endpoints, the deliveries
# already made, and (savepoint, insert, release) per new delivery.
FAN_OUT_STATEMENTS = 15
# The delivery (locked), its endpoint, the delivery's update.
CLAIM_STATEMENTS = 3
# A failure: the delivery (locked), the endpoint, again under its lock, the delivery's
# update, the attempt, the endpoint's update.
OUTCOME_STATEMENTS = 6


def _work(statements: list[str]) -> list[str]:
    """Leave out SQLite's BEGIN, sent lazily with a unit's first statement (PostgreSQL
    sends its own before the block starts, with the scope)."""
    return [s for s in statements if not s.startswith("BEGIN")]


async def _event(db: Database, world: World) -> tuple[uuid.UUID, uuid.UUID]:
    scope = await authenticate(db, world.key("a"))
    message = await emit(db, scope, world.merchant_a, "refund_case.approved")
    return message.tenant_id, message.event_id


async def _fan_out(db: Database, world: World) -> list[tuple[uuid.UUID, uuid.UUID]]:
    tenant_id, event_id = await _event(db, world)
    async with db.unit_of_work(runtime.system_scope("webhooks")) as uow:
        return await delivery.fan_out(uow, tenant_id, event_id, utcnow())


async def test_the_delivery_log_costs_the_same_whatever_its_size(
    client: httpx.AsyncClient, db: Database, world: World
) -> None:
    key = world.key("a")
    endpoint_id, _ = await created(client, key, URL)
    for i in range(6):
        (one,) = await _fan_out(db, world)
        await attempt(db, one, FAILED)
        if i % 2:
            await attempt(db, one, SUCCEEDED, later=timedelta(hours=1))
    await ok(client, PAGE, {"e": endpoint_id, "first": 1}, key=key)  # warm up

    counts: dict[int, int] = {}
    for size in (1, 3, 6):
        with counting(db) as statements:
            data = await ok(client, PAGE, {"e": endpoint_id, "first": size}, key=key)
        edges = data["webhookDeliveries"]["edges"]
        assert len(edges) == size and data["webhookDeliveries"]["totalCount"] == 6
        assert all(e["node"]["attempts"] and e["node"]["endpoint"]["url"] == URL for e in edges)
        counts[size] = len(statements)
    assert counts[1] == counts[3] == counts[6], counts
    # auth (key, scope), endpoint check, page, count, attempts, endpoints, tenants
    assert counts[6] <= 9, counts


async def test_a_delivery_takes_a_fixed_number_of_statements(
    client: httpx.AsyncClient, db: Database, world: World
) -> None:
    # Endpoints on three levels of the tenant tree: the merchant, its agency, the operator.
    for who in ("a", "agency", "operator"):
        await created(client, world.key(who), URL, ["*"])
    tenant_id, event_id = await _event(db, world)

    async with db.unit_of_work(runtime.system_scope("webhooks")) as uow:
        with counting(db) as fan_out:
            created_keys = await delivery.fan_out(uow, tenant_id, event_id, utcnow())
            await uow.flush()
    assert len(created_keys) == 3
    assert len(_work(fan_out)) <= FAN_OUT_STATEMENTS, fan_out

    owner, delivery_id = next(k for k in created_keys if k[0] == world.merchant_a)
    async with db.unit_of_work(runtime.job_scope(owner, "webhooks")) as uow:
        with counting(db) as claim:
            claimed = await delivery.claim(uow, owner, delivery_id, utcnow())
            await uow.flush()
    assert claimed is not None and claimed.number == 1
    assert len(_work(claim)) <= CLAIM_STATEMENTS, claim

    async with db.unit_of_work(runtime.job_scope(owner, "webhooks")) as uow:
        with counting(db) as outcome:
            recorded: Any = await delivery.record_outcome(uow, claimed, FAILED, utcnow())
            await uow.flush()
    assert recorded is not None and recorded.status == "RETRYING"
    assert len(_work(outcome)) <= OUTCOME_STATEMENTS, outcome
