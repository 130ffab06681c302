"""refundCases: filters, sort orders, keyset pagination, nested loaders and the
statement count of a page (constant in the page size)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, update

from qrefund.graphql_schema import ids
from qrefund.platform.clock import utcnow
from qrefund.platform.refunds import service
from qrefund.platform.refunds.models import RefundCase
from qrefund.platform.vocabulary import RefundReason, RequestChannel
from tests.refunds.api import publish, txn_gid
from tests.refunds.helpers import record_txn, scope_of, submit
from tests.support.graphql import gql, ok
from tests.support.raw import unchecked

LIST = """query($first: Int, $after: String, $f: RefundCaseFilterInput, $o: RefundCaseOrder!) {
  refundCases(first: $first, after: $after, filter: $f, orderBy: $o) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { id caseNumber status reason channel nextDueAt createdAt } } } }"""


async def list_cases(client, key, f=None, order="CREATED_DESC", first=50, after=None):
    data = await ok(client, LIST, {"f": f, "o": order, "first": first, "after": after}, key=key)
    return data["refundCases"]


async def all_pages(client, key, f=None, order="CREATED_DESC", first=2) -> list[dict[str, Any]]:
    nodes, after = [], None
    while True:
        page = await list_cases(client, key, f, order, first, after)
        nodes += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


@pytest.fixture
async def seeded(client, db, world):
    """Seven cases across merchants A and B in assorted states, reasons and channels."""
    txn_a = await record_txn(db, world, "a", amount="500.00")
    txn_b = await record_txn(db, world, "b", amount="500.00")
    specs = [
        (txn_a, RefundReason.QUALITY_ISSUE, RequestChannel.API),
        (txn_a, RefundReason.DUPLICATE_CHARGE, RequestChannel.POS_QR),
        (txn_a, RefundReason.QUALITY_ISSUE, RequestChannel.PHONE),
        (txn_a, RefundReason.NOT_RECEIVED, RequestChannel.APP),
        (txn_b, RefundReason.QUALITY_ISSUE, RequestChannel.API),
        (txn_b, RefundReason.OTHER, RequestChannel.WEB),
        (txn_b, RefundReason.QUALITY_ISSUE, RequestChannel.POS_QR),
    ]
    cases = [await submit(db, world, t, "10.00", who="a" if t is txn_a else "b", reason=r,
                          channel=c) for t, r, c in specs]
    agent_a = await scope_of(db, world, "a", "REFUND_AGENT")
    async with db.unit_of_work(agent_a) as uow:  # case 1: under review, assigned, escalated
        row = await service.start_review(uow, cases[1].tenant_id, cases[1].id, assignee="mei")
        row.escalation_level = 2
    async with db.unit_of_work(agent_a) as uow:  # case 2: approved
        await service.start_review(uow, cases[2].tenant_id, cases[2].id)
    async with db.unit_of_work(agent_a) as uow:
        await service.approve(uow, cases[2].tenant_id, cases[2].id)
    async with db.unit_of_work(agent_a) as uow:  # case 3: cancelled (no running deadline)
        await service.cancel(uow, cases[3].tenant_id, cases[3].id)
    async with db.unit_of_work(await scope_of(db, world, "operator")) as uow:  # case 0: overdue
        await unchecked(uow).execute(update(RefundCase).where(RefundCase.id == cases[0].id).values(
            next_due_at=utcnow() - timedelta(hours=1), review_due_at=utcnow() - timedelta(hours=1)))
    return cases, txn_a, txn_b


def gid(case: RefundCase) -> str:
    return ids.encode("RefundCase", case.tenant_id, case.id)


async def test_bad_arguments_are_coded_errors(client, world, seeded):
    key = world.key("agency")
    for variables, code in [({"first": 0}, "INVALID_PAGE_SIZE"), ({"first": 1000},
                            "INVALID_PAGE_SIZE"), ({"after": "garbage"}, "INVALID_CURSOR"),
                            ({"f": {"merchantIds": ["bm9wZQ"]}}, "NOT_FOUND")]:
        body = await gql(client, LIST, {"o": "CREATED_DESC", **variables}, key=key)
        assert body["errors"][0]["extensions"]["code"] == code, body


async def test_scope_decides_what_is_listed(client, world, seeded):
    cases, *_ = seeded
    assert len(await all_pages(client, world.key("agency"))) == 7
    mine = await all_pages(client, world.key("a", "VIEWER"))
    assert {n["id"] for n in mine} == {gid(c) for c in cases[:4]}
    assert await all_pages(client, world.key("c")) == []
    assert await all_pages(client, world.key("other_agency")) == []


@pytest.mark.parametrize(("f", "expected"), [
    ({"status": ["APPROVED", "CANCELLED"]}, {2, 3}),
    ({"reason": ["QUALITY_ISSUE"]}, {0, 2, 4, 6}),
    ({"channel": ["POS_QR"]}, {1, 6}),
    ({"overdue": True}, {0}),
    ({"overdue": False}, {1, 2, 3, 4, 5, 6}),
    ({"escalationLevel": 2}, {1}),
    ({"minEscalationLevel": 1}, {1}),
    ({"assignee": "mei"}, {1}),
    ({"status": ["SUBMITTED"], "reason": ["QUALITY_ISSUE"]}, {0, 4, 6}),
])
async def test_filters(client, world, seeded, f, expected):
    cases, *_ = seeded
    got = await all_pages(client, world.key("agency"), f)
    assert {n["id"] for n in got} == {gid(cases[i]) for i in expected}
    page = await list_cases(client, world.key("agency"), f)
    assert page["totalCount"] == len(expected)


async def test_merchant_transaction_created_and_due_filters(client, world, seeded):
    cases, txn_a, _txn_b = seeded
    key = world.key("agency")
    b = ids.encode("Tenant", world.merchant_b)
    assert {n["id"] for n in await all_pages(client, key, {"merchantIds": [b]})} == \
        {gid(c) for c in cases[4:]}
    by_txn = await all_pages(client, key, {"transactionId": txn_gid(txn_a)})
    assert {n["id"] for n in by_txn} == {gid(c) for c in cases[:4]}
    later = (utcnow() + timedelta(minutes=5)).isoformat()
    assert await all_pages(client, key, {"createdFrom": later}) == []
    assert len(await all_pages(client, key, {"createdTo": later})) == 7
    soon = (utcnow() + timedelta(hours=1)).isoformat()
    assert {n["id"] for n in await all_pages(client, key, {"dueBefore": soon})} == {gid(cases[0])}


@pytest.mark.parametrize("order", ["CREATED_DESC", "CREATED_ASC", "DUE_ASC"])
async def test_keyset_pages_follow_the_order(client, world, seeded, order):
    whole = (await list_cases(client, world.key("agency"), order=order))["edges"]
    paged = await all_pages(client, world.key("agency"), order=order, first=2)
    assert [n["id"] for n in paged] == [e["node"]["id"] for e in whole]
    assert len(paged) == 7
    if order == "DUE_ASC":
        dues = [n["nextDueAt"] for n in paged]
        running = [d for d in dues if d is not None]
        assert running == sorted(running) and dues[len(running):] == [None]
        assert paged[0]["id"] == gid(seeded[0][0])  # the overdue one first
    else:
        created = [n["createdAt"] for n in paged]
        assert created == sorted(created, reverse=order == "CREATED_DESC")


async def test_nested_transaction_events_policy_and_transaction_cases(client, db, world):
    await publish(client, world.key("agency"), merchantId=ids.encode("Tenant", world.agency_id),
                  refundWindowDays=90)
    txn = await record_txn(db, world, "a")
    case = await submit(db, world, txn, "10.00")
    data = await ok(client, """query($id: ID!) { node(id: $id) { ... on RefundCase {
        policyVersion policy { version source refundWindowDays }
        merchant { slug } evidence { filename } lastEvent { type actor }
        transaction { id refundCases { id caseNumber } } } } }""", {"id": gid(case)},
                    key=world.key("a", "VIEWER"))
    node = data["node"]
    assert node["policy"] == {"version": 1, "source": "AGENCY_TEMPLATE", "refundWindowDays": 90}
    assert node["merchant"]["slug"] == "merchant-a" and node["evidence"] == []
    assert node["lastEvent"]["type"] == "submitted"
    assert node["transaction"]["refundCases"] == [{"id": gid(case),
                                                   "caseNumber": case.case_number}]
    # Default terms for a merchant of an agency without a template: version 0.
    other = await submit(db, world, await record_txn(db, world, "c"), "100", who="c")
    data = await ok(client, "query($id: ID!) { node(id: $id) { ... on RefundCase { policy { "
                    "version source } } } }", {"id": gid(other)}, key=world.key("c"))
    assert data["node"]["policy"] == {"version": 0, "source": "DEFAULT"}
    # Out of scope: null.
    data = await ok(client, "query($id: ID!) { node(id: $id) { id } }", {"id": gid(other)},
                    key=world.key("a"))
    assert data["node"] is None


PAGE = """query($first: Int!) { refundCases(first: $first) { edges { node {
  id caseNumber status requestedAmount { amount currency }
  transaction { id merchantOrderNo amount { amount } refundableAmount { amount } }
  events { seq type actor occurredAt } lastEvent { type occurredAt }
  policy { version } evidence { sha256 } merchant { slug } } } } }"""


async def _statements(client, db, key, first: int) -> int:
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        seen.append(statement)

    engines = {db.read_engine.sync_engine, db.write_engine.sync_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", count)
    try:
        data = await ok(client, PAGE, {"first": first}, key=key)
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", count)
    assert len(data["refundCases"]["edges"]) == first
    return len(seen)


async def test_statement_count_does_not_grow_with_the_page(client, db, world):
    await publish(client, world.key("a"), maxRefundsPerTransaction=60)
    txns = [await record_txn(db, world, "a", amount="1000.00") for _ in range(10)]
    for i in range(50):
        await submit(db, world, txns[i % 10], "1.00")
    key = world.key("a", "VIEWER")
    await ok(client, PAGE, {"first": 1}, key=key)  # warm-up: the key's last-used write
    five, fifty = await _statements(client, db, key, 5), await _statements(client, db, key, 50)
    assert five == fifty, (five, fifty)
    # auth (3) + scope setting + page + transactions, timelines, last events, policies,
    # evidence and merchants: one statement each, whatever the page size.
    assert fifty <= 12


@pytest.mark.postgres_only
async def test_row_level_security_hides_other_tenants_cases(db, world, owner_engine):
    from sqlalchemy import text

    txn = await record_txn(db, world, "a")
    await submit(db, world, txn, "10.00")
    with owner_engine.begin() as conn:
        conn.execute(text("SET LOCAL ROLE qrefund_app"))
        for table in ("refund_cases", "refund_case_events"):
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0
        conn.execute(text("SELECT set_config('qrefund.tenant_ids', :t, true)"),
                     {"t": str(world.merchant_b)})
        for table in ("refund_cases", "refund_case_events"):
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0
        conn.execute(text("SELECT set_config('qrefund.tenant_ids', :t, true)"),
                     {"t": str(world.merchant_a)})
        assert conn.execute(text("SELECT count(*) FROM refund_cases")).scalar() == 1
