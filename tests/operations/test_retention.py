"""Retention: closed cases and tickets move to the archive and stay readable; finished
delivery logs are purged; nothing live, nothing still referenced, goes.

Rows are made through the API; only their age is set (as the owner) to be past the
retention period, as time would.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from qrefund.jobs import runtime
from qrefund.jobs.retention import retention_sweep
from qrefund.platform.clock import utcnow
from qrefund.platform.complaints.models import ComplaintMessage, ComplaintTicket
from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from qrefund.platform.refunds.models import RefundCase, RefundCaseEvent
from qrefund.platform.retention.models import ArchivedRecord
from qrefund.platform.roles import Role
from qrefund.platform.webhooks.models import (
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookEndpoint,
)
from tests.complaints.api import done
from tests.complaints.api import mutate as complaint_mutate
from tests.foundation.helpers import record_txn
from tests.refunds.api import mutate
from tests.support.graphql import ok
from tests.support.world import World

ARCHIVED = """query($id: ID!) { archivedRecord(id: $id) { id subjectType number status
  merchantId closedAt archivedAt document } }"""
NODE = "query($id: ID!) { node(id: $id) { id } }"


@pytest.fixture
def retention(settings: Settings, db: Database) -> Iterator[Settings]:
    own = settings.model_copy(update={"retention_days": 30, "delivery_log_days": 7})
    runtime.reset()
    runtime.configure(settings=own, db=db)
    try:
        yield own
    finally:
        runtime.reset()


async def _case(client: httpx.AsyncClient, world: World, *, reject: bool) -> str:
    txn = await record_txn(client, world.key("a", Role.INTEGRATION))
    made = await mutate(client, "SubmitRefundRequest", world.key("a", Role.INTEGRATION),
                        transactionId=txn["id"], amount="1.00", reason="QUALITY_ISSUE",
                        channel="API", contactEmail="buyer@example.com")
    case_id: str = made["refundCase"]["id"]
    if reject:
        for step, extra in (("StartRefundReview", {}), ("RejectRefund", {"reason": "no"})):
            decided = await mutate(client, step, world.key("a"), id=case_id, **extra)
            assert decided["userErrors"] == [], decided
    return case_id


async def _ticket(client: httpx.AsyncClient, world: World, *, case_id: str | None = None,
                  close: bool) -> str:
    support = world.key("a", Role.SUPPORT)
    about = {"refundCaseId": case_id} if case_id else {
        "transactionId": (await record_txn(client, world.key("a", Role.INTEGRATION)))["id"]}
    opened = await complaint_mutate(client, "OpenComplaint", support, category="SERVICE",
                                    description="RETAINED-COMPLAINT", **about)
    ticket_id: str = opened["complaintTicket"]["id"]
    if close:
        await done(client, "ReplyToComplaint", support, id=ticket_id, message="sorry")
        await done(client, "ResolveComplaint", support, id=ticket_id, resolution="EXPLAINED",
                   note="explained")
        await done(client, "CloseComplaint", support, id=ticket_id)
    return ticket_id


def _age(owner_engine: Engine, days: int) -> None:
    """Move cases' last change and tickets' closing ``days`` into the past."""
    for table, column in ((RefundCase.__table__, "updated_at"),  # type: ignore[attr-defined]
                          (ComplaintTicket.__table__, "closed_at")):  # type: ignore[attr-defined]
        with owner_engine.begin() as conn:  # type: ignore[attr-defined]
            rows = conn.execute(select(table.c.tenant_id, table.c.id, table.c[column])).all()
            for tenant_id, id_, when in rows:
                if when is not None:
                    conn.execute(update(table).where(
                        table.c.tenant_id == tenant_id, table.c.id == id_).values(
                        {column: when - timedelta(days=days)}))


def _count(owner_engine: Engine, model: Any) -> int:
    with owner_engine.connect() as conn:  # type: ignore[attr-defined]
        return int(conn.execute(select(func.count()).select_from(model)).scalar() or 0)


async def test_closed_subjects_older_than_the_period_move_to_the_archive(
    client: httpx.AsyncClient, world: World, owner_engine: Engine, retention: Settings,
) -> None:
    # Given a rejected case, a live case, a rejected case a live ticket is about, a
    # closed ticket, all 40 days old
    archived_case = await _case(client, world, reject=True)
    live_case = await _case(client, world, reject=False)
    referenced = await _case(client, world, reject=True)
    live_ticket = await _ticket(client, world, case_id=referenced, close=False)
    closed_ticket = await _ticket(client, world, close=True)
    events_before = _count(owner_engine, RefundCaseEvent)
    _age(owner_engine, 40)

    # When the retention job runs
    done_ = await retention_sweep()

    # Then the rejected case and the closed ticket moved, the rest stayed live
    assert done_ == {"ComplaintTicket": 1, "RefundCase": 1, "WebhookDelivery": 0}
    key = world.key("a")
    for gone in (archived_case, closed_ticket):
        assert (await ok(client, NODE, {"id": gone}, key=key))["node"] is None
    for live in (live_case, referenced, live_ticket):
        assert (await ok(client, NODE, {"id": live}, key=key))["node"] == {"id": live}
    assert _count(owner_engine, ArchivedRecord) == 2
    assert _count(owner_engine, RefundCaseEvent) < events_before
    assert _count(owner_engine, ComplaintMessage) == 0  # the closed ticket's reply moved

    # And the archive answers with the same ids: the case with its events
    record = (await ok(client, ARCHIVED, {"id": archived_case}, key=key))["archivedRecord"]
    assert record["subjectType"] == "RefundCase" and record["status"] == "REJECTED"
    document = record["document"]
    assert [r["to_status"] for r in document["refund_case_events"]][-1] == "REJECTED"
    assert "contact_email_enc" not in document["refund_cases"][0]  # ciphertexts withheld
    ticket = (await ok(client, ARCHIVED, {"id": closed_ticket}, key=key))["archivedRecord"]
    assert ticket["status"] == "CLOSED"
    assert [m["body"] for m in ticket["document"]["complaint_messages"]] == ["sorry"]
    # And nobody else sees it; a live subject is not in the archive
    assert (await ok(client, ARCHIVED, {"id": archived_case}, key=world.key("b"))
            )["archivedRecord"] is None
    assert (await ok(client, ARCHIVED, {"id": live_case}, key=key))["archivedRecord"] is None
    assert (await ok(client, ARCHIVED, {"id": "garbage"}, key=key))["archivedRecord"] is None

    # And once the live ticket is closed and old, its case follows it on the next run
    await done(client, "ResolveComplaint", world.key("a", Role.SUPPORT), id=live_ticket,
               resolution="EXPLAINED", note="ok")
    await done(client, "CloseComplaint", world.key("a", Role.SUPPORT), id=live_ticket)
    _age(owner_engine, 40)
    assert await retention_sweep() == {"ComplaintTicket": 1, "RefundCase": 1,
                                       "WebhookDelivery": 0}
    # And a run with nothing due changes nothing
    assert await retention_sweep() == {"ComplaintTicket": 0, "RefundCase": 0,
                                       "WebhookDelivery": 0}


async def test_without_a_retention_period_nothing_is_archived(
    client: httpx.AsyncClient, world: World, owner_engine: Engine, retention: Settings,
) -> None:
    runtime.configure(settings=retention.model_copy(update={"retention_days": None}))
    await _case(client, world, reject=True)
    _age(owner_engine, 4000)
    assert await retention_sweep() == {"WebhookDelivery": 0}
    assert _count(owner_engine, ArchivedRecord) == 0


def _delivery(session: Session, endpoint: WebhookEndpoint, status: str, age: timedelta
              ) -> WebhookDelivery:
    made = WebhookDelivery(tenant_id=endpoint.tenant_id, endpoint_id=endpoint.id,
                           event_tenant_id=endpoint.tenant_id, event_id=uuid.uuid4(),
                           event_type="refund_case.approved", status=status,
                           give_up_at=utcnow(), created_at=utcnow() - age)
    session.add(made)
    session.flush()
    session.add(WebhookDeliveryAttempt(tenant_id=endpoint.tenant_id, delivery_id=made.id,
                                       number=1, trigger="SCHEDULED", outcome="FAILED",
                                       started_at=utcnow() - age))
    return made


async def test_finished_delivery_logs_past_their_period_are_purged(
    world: World, owner_engine: Engine, retention: Settings,
) -> None:
    # Given deliveries (with attempts): finished 10 days ago, finished today, unfinished
    with Session(owner_engine) as session:
        endpoint = WebhookEndpoint(tenant_id=world.merchant_a, url="https://example.com/h",
                                   event_types=["refund_case.*"], secret_enc="x",
                                   created_by="test")
        session.add(endpoint)
        session.flush()
        old = [_delivery(session, endpoint, s, timedelta(days=10))
               for s in ("SUCCEEDED", "FAILED", "CANCELLED")]
        kept = [_delivery(session, endpoint, "SUCCEEDED", timedelta(days=1)),
                _delivery(session, endpoint, "RETRYING", timedelta(days=10))]
        kept_ids = {d.id for d in kept}
        assert len(old) == 3
        session.commit()
    # When the retention job runs (7 days of delivery logs)
    assert (await retention_sweep())["WebhookDelivery"] == 3
    # Then only the recent and the unfinished deliveries remain, with their attempts
    deliveries = WebhookDelivery.__table__  # type: ignore[attr-defined]
    attempts = WebhookDeliveryAttempt.__table__  # type: ignore[attr-defined]
    with owner_engine.connect() as conn:  # type: ignore[attr-defined]
        assert set(conn.execute(select(deliveries.c.id)).scalars()) == kept_ids
        assert set(conn.execute(select(attempts.c.delivery_id)).scalars()) == kept_ids


def test_the_scheduler_runs_retention_on_the_maintenance_queue() -> None:
    from qrefund.jobs.registry import PERIODIC, QUEUE_MAINTENANCE, load_handlers

    load_handlers()
    found = [p for p in PERIODIC if p.name == "retention"]
    assert [(p.queue, p.func, p.interval) for p in found] == [
        (QUEUE_MAINTENANCE, "qrefund.jobs.retention.retention_sweep", "retention_sweep_seconds")]
