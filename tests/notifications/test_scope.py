"""The notifications service behind the tenancy wall (NotificationRepository, and the
case, transaction and merchant read through their own domains' services).

Refusals first: another tenant's case, event or message is *not found* / nothing to
do, never a different answer; then what the service tolerates (a case that is gone,
a revoked receipt); then what the conversion must not cost (statements per call).
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from qrefund.graphql_schema import ids
from qrefund.jobs.runtime import job_scope
from qrefund.platform.db import Database
from qrefund.platform.errors import NotFound
from qrefund.platform.notifications import service
from qrefund.platform.notifications.models import Channel, Notification
from qrefund.platform.outbox.models import DomainEvent
from qrefund.platform.outbox.service import record_event
from qrefund.platform.refunds.models import RefundCase
from qrefund.platform.transactions import service as transactions
from qrefund.tenants.auth import authenticate
from tests.foundation.test_sql_count import counting
from tests.refunds.helpers import record_txn, submit
from tests.support.graphql import gql
from tests.support.world import World
from tests.webhooks.support import owner_rows

# Writes made-up outbox events to exercise delivery itself.
pytestmark = pytest.mark.synthetic_events

EMAIL, PHONE = "consumer.li@example.com", "13900001111"
BASE_URL = "https://refunds.example.com"
QUERY = "query($c: ID!) { notifications(caseId: $c) { edges { node { id } } } }"


async def _case(db: Database, world: World, owner_engine: Any, **contact: Any
                ) -> tuple[RefundCase, Any]:
    """A submitted case of merchant A and its ``refund_case.submitted`` event row."""
    txn = await record_txn(db, world, "a", amount="66.00")
    case = await submit(db, world, txn, "6.00", **contact)
    (event,) = owner_rows(owner_engine, DomainEvent, DomainEvent.aggregate_id == case.id,
                          DomainEvent.type == "refund_case.submitted")
    return case, event


async def _prepare(db: Database, tenant_id: uuid.UUID, event: Any,
                   acting_for: uuid.UUID | None = None) -> list[service.Outgoing]:
    async with db.unit_of_work(job_scope(acting_for or tenant_id, "notifications")) as uow:
        return await service.prepare(uow, tenant_id, event.id, public_base_url=BASE_URL)


async def test_another_tenants_case_is_answered_like_a_missing_one(
    client: httpx.AsyncClient, db: Database, world: World, owner_engine: Any,
) -> None:
    # Given merchant A's case, and an id naming no case of merchant B
    case, _event = await _case(db, world, owner_engine, contact_email=EMAIL)
    foreign = ids.encode("RefundCase", case.tenant_id, case.id)
    missing = ids.encode("RefundCase", world.merchant_b, uuid.uuid4())
    # When merchant B asks for the messages of each
    answers = []
    for gid in (foreign, missing):
        body = await gql(client, QUERY, {"c": gid}, key=world.key("b"))
        answers.append([(e["message"], e["extensions"]) for e in body["errors"]])
    # Then both answers are the same NOT_FOUND on caseId: nothing tells them apart
    assert answers[0] == answers[1] == [
        ("refund case not found", {"code": "NOT_FOUND", "field": ["caseId"]})]


async def test_a_job_outside_the_events_tenant_prepares_nothing(
    db: Database, world: World, owner_engine: Any,
) -> None:
    # Given merchant A's submitted case with an e-mail contact
    case, event = await _case(db, world, owner_engine, contact_email=EMAIL)
    # When a job scoped to merchant B prepares A's event
    outgoing = await _prepare(db, case.tenant_id, event, acting_for=world.merchant_b)
    # Then it finds nothing to send and stores nothing
    assert outgoing == []
    assert owner_rows(owner_engine, Notification) == []
    # (while A's own job stores and returns the message)
    (mine,) = await _prepare(db, case.tenant_id, event)
    assert mine.channel is Channel.EMAIL and mine.recipient == EMAIL


async def test_another_tenant_cannot_record_an_outcome(
    db: Database, world: World, owner_engine: Any,
) -> None:
    # Given a message of merchant A waiting to be sent
    case, event = await _case(db, world, owner_engine, contact_email=EMAIL)
    (outgoing,) = await _prepare(db, case.tenant_id, event)
    # When a job scoped to merchant B records it as sent
    with pytest.raises(NotFound, match="notification not found"):
        async with db.unit_of_work(job_scope(world.merchant_b)) as uow:
            await service.record_outcome(uow, outgoing, provider="log", message_id="x",
                                         error=None)
    # Then the message is untouched
    (row,) = owner_rows(owner_engine, Notification)
    assert (row.status, row.attempts, row.provider) == ("PENDING", 0, None)


async def test_an_event_whose_case_is_gone_prepares_nothing(
    db: Database, world: World, owner_engine: Any,
) -> None:
    # Given a case event of merchant A naming no case
    scope = await authenticate(db, world.key("a"))
    async with db.unit_of_work(scope) as uow:
        orphan = await record_event(uow, tenant_id=world.merchant_a,
                                    type="refund_case.submitted", aggregate_type="refund_case",
                                    aggregate_id=uuid.uuid4(), payload={})
    # When the notification job prepares it
    outgoing = await _prepare(db, world.merchant_a, orphan)
    # Then there is nothing to send (not an error) and nothing is stored
    assert outgoing == []
    assert owner_rows(owner_engine, Notification) == []


async def test_a_revoked_receipt_leaves_the_link_out(
    db: Database, world: World, owner_engine: Any,
) -> None:
    # Given a case whose payment's receipt was revoked
    case, event = await _case(db, world, owner_engine, contact_email=EMAIL, contact_phone=PHONE)
    scope = await authenticate(db, world.key("a"))
    async with db.unit_of_work(scope) as uow:
        await transactions.revoke_receipt(uow, case.tenant_id, case.transaction_id)
    # When the notification job prepares the submission
    outgoing = await _prepare(db, case.tenant_id, event)
    # Then both messages are there, without a link to the receipt
    assert {o.channel for o in outgoing} == {Channel.EMAIL, Channel.SMS}
    assert all(case.case_number in o.body and "/r/" not in o.body for o in outgoing)


# Statements per call, measured on both backends before the conversion to repositories.
# prepare: the unit's start (PostgreSQL: the scope's set_config; SQLite: BEGIN), the
# event, case, merchant, transaction, stored messages, then per channel SAVEPOINT,
# INSERT, RELEASE. list_for_case: the unit's start, the case, the page.
PREPARE_STATEMENTS = 12
LIST_STATEMENTS = 3


async def test_statements_per_call_do_not_grow(
    db: Database, world: World, owner_engine: Any,
) -> None:
    # Given a submitted case with both contacts
    case, event = await _case(db, world, owner_engine, contact_email=EMAIL, contact_phone=PHONE)
    # When the job prepares it, then a viewer lists its messages
    with counting(db) as prepared:
        assert len(await _prepare(db, case.tenant_id, event)) == 2
    scope = await authenticate(db, world.key("a", "VIEWER"))
    with counting(db) as listed:
        async with db.unit_of_work(scope, readonly=True) as uow:
            page = await service.list_for_case(uow, case.tenant_id, case.id, first=10,
                                               after=None)
    # Then neither took more statements than before the conversion
    assert len(page.items) == 2
    assert len(prepared) == PREPARE_STATEMENTS, prepared
    assert len(listed) == LIST_STATEMENTS, listed


