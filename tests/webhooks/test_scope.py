"""The webhooks domain's reads stay inside the caller's scope (refusals first).

The batch reads behind the GraphQL loaders, the single-row reads and the delivery job's
claim all answer another tenant's keys with nothing: no row, *not found*, no claim.
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
from qrefund.platform.errors import NotFound
from qrefund.platform.outbox.service import event_by_id
from qrefund.platform.webhooks import delivery, service
from qrefund.platform.webhooks.models import WebhookDelivery
from qrefund.tenants.auth import authenticate
from qrefund.tenants.service import lineage
from tests.support.world import World
from tests.webhooks.api import created
from tests.webhooks.support import FAILED, attempt, emit, owner_rows

# Writes made-up outbox events to exercise delivery itself.
pytestmark = pytest.mark.synthetic_events

URL = "http://127.0.0.1:9/hooks"
Key = tuple[uuid.UUID, uuid.UUID]


async def _logged(client: httpx.AsyncClient, db: Database, world: World
                  ) -> tuple[Key, Key, uuid.UUID]:
    """Merchant A's endpoint with one failed attempt: (endpoint, delivery, event id)."""
    await created(client, world.key("a"), URL)
    message = await emit(db, await authenticate(db, world.key("a")), world.merchant_a,
                         "refund_case.approved")
    async with db.unit_of_work(runtime.system_scope("webhooks")) as uow:
        (key,) = await delivery.fan_out(uow, message.tenant_id, message.event_id, utcnow())
    await attempt(db, key, FAILED)
    async with db.unit_of_work(runtime.system_scope("webhooks"), readonly=True) as uow:
        endpoint = (await service.get_delivery(uow, *key)).endpoint_id
    return (world.merchant_a, endpoint), key, message.event_id


async def test_another_tenant_reads_nothing_of_a_merchants_webhooks(
    client: httpx.AsyncClient, db: Database, world: World
) -> None:
    endpoint, delivery_key, event_id = await _logged(client, db, world)
    for who in ("b", "other_agency"):
        scope = await authenticate(db, world.key(who))
        async with db.unit_of_work(scope, readonly=True) as uow:
            assert await service.endpoints_by_key(uow, [endpoint]) == {}
            assert await service.attempts_by_delivery(uow, [delivery_key]) == {}
            assert await event_by_id(uow, world.merchant_a, event_id) is None
            with pytest.raises(NotFound, match="webhook endpoint not found"):
                await service.get_endpoint(uow, *endpoint)
            with pytest.raises(NotFound, match="webhook delivery not found"):
                await service.get_delivery(uow, *delivery_key)
            assert await lineage(uow, world.merchant_a, max_depth=4) == [world.merchant_a]


async def test_a_job_of_another_tenant_cannot_claim_a_delivery(
    client: httpx.AsyncClient, db: Database, world: World, owner_engine: Any
) -> None:
    _endpoint, (tenant_id, delivery_id), _event = await _logged(client, db, world)
    async with db.unit_of_work(runtime.job_scope(world.merchant_b, "webhooks")) as uow:
        later = utcnow() + timedelta(days=1)  # the retry is due by then
        assert await delivery.claim(uow, tenant_id, delivery_id, later) is None
    (row,) = owner_rows(owner_engine, WebhookDelivery)
    assert row.status == "RETRYING" and row.attempts == 1


async def test_the_owner_and_its_agency_read_them(
    client: httpx.AsyncClient, db: Database, world: World
) -> None:
    endpoint, delivery_key, event_id = await _logged(client, db, world)
    for who in ("a", "agency", "operator"):
        async with db.unit_of_work(await authenticate(db, world.key(who)), readonly=True) as uow:
            assert set(await service.endpoints_by_key(uow, [endpoint])) == {endpoint}
            (attempt,) = (await service.attempts_by_delivery(uow, [delivery_key]))[delivery_key]
            assert attempt.number == 1 and attempt.outcome == "FAILED"
            found = await event_by_id(uow, world.merchant_a, event_id)
            assert found is not None and found.type == "refund_case.approved"
    async with db.unit_of_work(runtime.system_scope("webhooks"), readonly=True) as uow:
        assert await lineage(uow, world.merchant_a, max_depth=4) == [
            world.merchant_a, world.agency_id, world.operator_id]
        assert await lineage(uow, world.merchant_a, max_depth=2) == [
            world.merchant_a, world.agency_id]
