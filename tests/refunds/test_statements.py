"""Statement counts of the measured writes through the API: submitRefundRequest and
approveRefund run a fixed list of statements (the write benchmark's), so an extra read
or an UPDATE right after an INSERT shows up here; and the rows they write keep the
timeline's invariant (a case's ``event_count`` is the seq of its last event)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col

from qrefund.graphql_schema import ids
from qrefund.platform import db as db_module
from qrefund.platform.db import Database
from qrefund.platform.refunds.models import RefundCase, RefundCaseEvent
from tests.conftest import BACKEND
from tests.foundation.test_sql_count import counting
from tests.refunds.api import mutate, publish, submitted_case
from tests.refunds.helpers import record_txn, reload_txn, scope_of
from tests.support.graphql import ok
from tests.support.raw import unchecked
from tests.support.world import World

_TABLE = re.compile(r"^\s*(?:SELECT .*?\sFROM|INSERT INTO|UPDATE|DELETE FROM)\s+(\w+)",
                    re.S | re.I)
# Per request, on top of the mutation's own statements: the key's look-up and the scope
# (PostgreSQL: set_config per unit; SQLite: BEGIN). On PostgreSQL, submit: the
# idempotency claim, the payment (locked), merchant, policy, the payment's reservation,
# the case's INSERT (its event counted, its number drawn in the same statement; SQLite:
# one more), the event, its outbox row (drawing its seq in the same statement; SQLite:
# one more), the risk settings with the payment's open flag, the velocity rule's counts.
# Approve: the claim, the case and the payment (both locked), the channel routing
# (account, merchant, service-provider links), the case's UPDATE, the event and outbox.
EXPECTED = {"postgres": {"submit": 14, "approve": 14},
            "sqlite": {"submit": 15, "approve": 14}}


def _shape(statements: list[str]) -> list[str]:
    """Each statement as its verb and first table (``SELECT transactions``), the scope's
    ``set_config`` as ``SCOPE``."""
    out = []
    for sql in statements:
        if "set_config" in sql:
            out.append("SCOPE")
            continue
        found = _TABLE.match(sql)
        out.append(f"{sql.split()[0].upper()} {found.group(1) if found else '?'}")
    return out


async def test_submit_and_approve_run_a_fixed_list_of_statements(
    client: httpx.AsyncClient, db: Database, world: World
) -> None:
    txn = await record_txn(db, world, amount="100.00")
    key = world.key("a")
    await ok(client, "{ __typename }", key=key)  # the key's first use records it
    with counting(db) as statements:
        case = await submitted_case(client, key, txn, "10.00", idempotencyKey="count-submit")
    submitted = _shape(statements)
    await mutate(client, "StartRefundReview", key, id=case["id"])
    with counting(db) as statements:
        payload: dict[str, Any] = await mutate(client, "ApproveRefund", key, id=case["id"],
                                               idempotencyKey="count-approve")
    approved = _shape(statements)
    assert payload["userErrors"] == [] and payload["refundCase"]["status"] == "APPROVED"
    # The new case's row is written once (its INSERT carries the submitted event's
    # count), the payment is read once, and the risk screen reads its flags once.
    assert "UPDATE refund_cases" not in submitted, submitted
    assert submitted.count("SELECT transactions") == 1, submitted
    assert submitted.count("SELECT risk_flags") == 1, submitted
    # Each counter drawn by the INSERT using it: the case's number, the event's seq.
    assert submitted.count("INSERT tenant_sequences") == (0 if BACKEND == "postgres" else 2)
    assert len(submitted) == EXPECTED[BACKEND]["submit"], submitted
    # Approval reads the payment once, under its lock, after the case's.
    assert approved.count("SELECT transactions") == 1, approved
    assert approved.index("SELECT refund_cases") < approved.index("SELECT transactions")
    assert len(approved) == EXPECTED[BACKEND]["approve"], "\n".join(approved)


async def _timeline(db: Database, world: World, gid: str) -> tuple[RefundCase, list[Any]]:
    tenant_id, case_id = ids.decode(gid, "RefundCase")
    async with db.unit_of_work(await scope_of(db, world, "operator")) as uow:
        case = (await unchecked(uow).execute(select(RefundCase).where(
            col(RefundCase.tenant_id) == tenant_id, col(RefundCase.id) == case_id))).scalar_one()
        events = (await unchecked(uow).execute(
            select(col(RefundCaseEvent.seq), col(RefundCaseEvent.type),
                   col(RefundCaseEvent.occurred_at))
            .where(col(RefundCaseEvent.tenant_id) == tenant_id,
                   col(RefundCaseEvent.case_id) == case_id)
            .order_by(col(RefundCaseEvent.seq)))).all()
    return case, list(events)


async def test_a_new_case_counts_its_events_from_the_insert_on(
    client: httpx.AsyncClient, db: Database, world: World
) -> None:
    key = world.key("a", "INTEGRATION")
    plain = await submitted_case(client, key, await record_txn(db, world), "10.00")
    case, events = await _timeline(db, world, plain["id"])
    assert [(e.seq, e.type) for e in events] == [(1, "submitted")]
    assert case.event_count == 1 and case.updated_at == events[0].occurred_at
    # Auto-approval writes two more events in the same unit, and shrinks nothing: it
    # approves what the case holds on the payment it locked at intake.
    await publish(client, world.key("a"), autoApproveMaxAmount="50.00",
                  autoApproveReasons=["DUPLICATE_CHARGE"])
    txn = await record_txn(db, world, amount="200.00")
    auto = await submitted_case(client, key, txn, "50.00", reason="DUPLICATE_CHARGE")
    assert auto["status"] == "APPROVED"
    case, events = await _timeline(db, world, auto["id"])
    assert [(e.seq, e.type) for e in events] == [
        (1, "submitted"), (2, "review_started"), (3, "approved")]
    assert case.event_count == 3 and case.updated_at == events[-1].occurred_at
    fresh = await reload_txn(db, world, txn)
    assert (fresh.reserved_minor, fresh.refund_count) == (5000, 1)


@pytest.mark.skipif(BACKEND != "postgres", reason="the driver path is psycopg's")
async def test_submit_and_approve_run_their_kept_statements_on_the_driver(
    client: httpx.AsyncClient, db: Database, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every statement the two writes keep from one request to the next fits the
    driver's path (platform/driver.py): an expanding parameter (a literal IN list) would
    send one back through SQLAlchemy's execution, a quarter of a millisecond each."""
    refused: list[str] = []
    original = db_module.driver_form

    def recorded(stmt: Any, dialect: Any) -> Any:
        form = original(stmt, dialect)
        if form is None:
            refused.append(str(stmt.compile(dialect=dialect))[:120])
        return form

    monkeypatch.setattr(db_module, "driver_form", recorded)
    txn = await record_txn(db, world, amount="100.00")
    key = world.key("a")
    case = await submitted_case(client, key, txn, "10.00", idempotencyKey="kept-submit")
    await mutate(client, "StartRefundReview", key, id=case["id"])
    payload = await mutate(client, "ApproveRefund", key, id=case["id"],
                           idempotencyKey="kept-approve")
    assert payload["userErrors"] == []
    assert refused == []
