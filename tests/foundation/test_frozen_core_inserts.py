"""Rows written past the ORM session (``insert_rows``, ``insert_now``: timeline entries,
domain events, idempotency claims, bulk imports) meet the flush guard's rule for a
suspended merchant too, although no flush ever sees them."""

from __future__ import annotations

import uuid

import httpx
import pytest

from qrefund.platform.db import Database
from qrefund.platform.errors import CommonError, Conflict
from qrefund.platform.outbox.models import DomainEvent
from qrefund.platform.outbox.repository import DomainEventRepository
from qrefund.platform.outbox.service import record_event
from qrefund.tenants.auth import authenticate
from tests.foundation.test_merchant_lifecycle import life, merchant
from tests.support.world import World


def _event(tenant_id: uuid.UUID, seq: int) -> DomainEvent:
    return DomainEvent(tenant_id=tenant_id, seq=seq, type="test.core_insert",
                       aggregate_type="test", aggregate_id=uuid.uuid4(), payload={},
                       actor="test")


async def test_a_suspended_merchants_core_inserts_are_refused(
    client: httpx.AsyncClient, db: Database, world: World
) -> None:
    done = await life(client, "SuspendMerchant", world.key("agency"), id=merchant(world),
                      reason="contract review")
    assert done["userErrors"] == []
    scope = await authenticate(db, world.key("a"))
    assert world.merchant_a in scope.frozen_tenant_ids
    async with db.unit_of_work(scope) as uow:
        events = DomainEventRepository(uow)
        with pytest.raises(Conflict) as one:
            await events.insert_now(_event(world.merchant_a, 10**9))
        assert one.value.code == CommonError.MERCHANT_SUSPENDED
        columns = DomainEvent.__table__.columns  # type: ignore[attr-defined]
        two = [_event(world.merchant_a, 10**9 + n) for n in (1, 2)]
        with pytest.raises(Conflict):  # the multi-row form too
            await events.insert_rows([{c.name: getattr(e, c.name) for c in columns}
                                      for e in two])
        with pytest.raises(Conflict):  # an event that draws its number as it is written
            await record_event(uow, tenant_id=world.merchant_a,
                               type="transaction_import.requested", aggregate_type="test",
                               aggregate_id=uuid.uuid4(), payload={"format": "CSV"})
