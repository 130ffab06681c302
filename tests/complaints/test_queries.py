"""complaintTickets (filters, orders, keyset pages, counts), node, and the tickets of a
refund case or a payment."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from qrefund.graphql_schema import ids
from qrefund.platform.clock import utcnow
from qrefund.platform.complaints import service
from qrefund.platform.complaints.models import ComplaintTicket
from qrefund.platform.transactions import service as transactions
from tests.complaints.api import case_gid, done, node, opened, ticket_key, txn_gid
from tests.complaints.helpers import consumer
from tests.refunds.helpers import record_txn, scope_of, submit
from tests.support.graphql import gql, ok
from tests.support.raw import unchecked

SUPPORT = ("a", "SUPPORT")
LIST = """query($f: ComplaintTicketFilterInput, $o: ComplaintTicketOrder, $first: Int,
  $after: String) { complaintTickets(filter: $f, orderBy: $o, first: $first, after: $after) {
  totalCount edges { cursor node { id ticketNumber status priority nextDueAt } }
  pageInfo { hasNextPage hasPreviousPage endCursor } } }"""


async def listed(client, key, **variables):
    data = await ok(client, LIST, variables, key=key)
    return data["complaintTickets"]


def numbers(page):
    return [e["node"]["ticketNumber"] for e in page["edges"]]


async def _desk(client, db, world):
    """Tickets in several states, priorities, categories, assignees and teams."""
    key = world.key(*SUPPORT)
    txn = await record_txn(db, world)
    case_txn = await record_txn(db, world)
    case = await submit(db, world, case_txn)
    t = {
        "open": await opened(client, key, txn=txn, category="SERVICE"),
        "repeat": await opened(client, key, txn=txn, category="QUALITY"),
        "case": await opened(client, key, case=case, category="REFUND_DELAY"),
        "queued": await opened(client, key, txn=await record_txn(db, world), category="OTHER"),
        "resolved": await opened(client, key, txn=await record_txn(db, world),
                                 category="WRONG_AMOUNT"),
    }
    await done(client, "AssignComplaint", key, id=t["case"]["id"], assignee="Zhou")
    await done(client, "AssignComplaint", key, id=t["queued"]["id"], assignee="Desk East",
               assigneeKind="TEAM")
    await done(client, "ResolveComplaint", key, id=t["resolved"]["id"], resolution="GOODWILL",
               note="Voucher sent.")
    async with db.unit_of_work(consumer(await _txn_of(db, world, t["resolved"]))) as uow:
        await service.rate(uow, *ticket_key(t["resolved"]), rating=5)
    return t, txn, case


async def _txn_of(db, world, ticket):
    async with db.unit_of_work(await scope_of(db, world, "a"), readonly=True) as uow:
        row = await service.get_ticket(uow, *ticket_key(ticket))
        txn = await transactions.get(uow, row.tenant_id, row.transaction_id)
        uow.expunge(txn)
        return txn


async def test_filters(client, db, world):
    t, txn, case = await _desk(client, db, world)
    key = world.key("a", "VIEWER")

    async def only(**flt):
        page = await listed(client, key, f=flt)
        assert page["totalCount"] == len(page["edges"])
        return sorted(e["node"]["id"] for e in page["edges"])

    def of(*names):
        return sorted(t[n]["id"] for n in names)

    assert await only(status=["RESOLVED"]) == of("resolved")
    assert await only(status=["OPEN", "IN_PROGRESS"]) == of("open", "repeat", "case", "queued")
    assert await only(priority=["HIGH"]) == of("repeat")
    assert await only(category=["REFUND_DELAY", "OTHER"]) == of("case", "queued")
    assert await only(assignee="Zhou") == of("case")
    assert await only(team="Desk East") == of("queued")
    assert await only(repeat=True) == of("repeat")
    assert await only(repeat=False) == of("open", "case", "queued", "resolved")
    assert await only(rating=[4, 5]) == of("resolved")
    assert await only(rating=[1]) == []
    assert await only(transactionId=txn_gid(txn)) == of("open", "repeat")
    assert await only(refundCaseId=case_gid(case)) == of("case")
    assert await only(merchantIds=[ids.encode("Tenant", world.merchant_a)]) == of(*t)
    assert await only(overdue=True) == []
    async with db.unit_of_work(await scope_of(db, world, "a")) as uow:
        await unchecked(uow).execute(update(ComplaintTicket).where(
            ComplaintTicket.id == ticket_key(t["open"])[1]).values(
            next_due_at=utcnow() - timedelta(minutes=1)))
    assert await only(overdue=True) == of("open")
    assert await only(overdue=False) == of("repeat", "case", "queued", "resolved")


async def test_orders_and_keyset_pages(client, db, world):
    t, _txn, _case = await _desk(client, db, world)
    key = world.key("a", "VIEWER")
    newest = numbers(await listed(client, key))
    assert newest == sorted(newest, reverse=True) and len(newest) == 5
    assert numbers(await listed(client, key, o="CREATED_ASC")) == sorted(newest)
    # Due first: the running deadlines, soonest first; the resolved ticket (none) last.
    due = (await listed(client, key, o="DUE_ASC"))["edges"]
    running = [e["node"]["nextDueAt"] for e in due if e["node"]["nextDueAt"]]
    assert running == sorted(running) and due[-1]["node"]["id"] == t["resolved"]["id"]
    for order in ("CREATED_DESC", "CREATED_ASC", "DUE_ASC"):
        seen, after = [], None
        while True:
            page = await listed(client, key, o=order, first=2, after=after)
            seen += numbers(page)
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert seen == numbers(await listed(client, key, o=order)), order


async def test_bad_arguments_are_coded_errors(client, db, world):
    key = world.key("a", "VIEWER")
    for variables, code in (({"first": 0}, "INVALID_PAGE_SIZE"), ({"after": "nope"},
                            "INVALID_CURSOR"), ({"f": {"merchantIds": [ids.encode(
                                "Tenant", world.merchant_b)]}}, "NOT_FOUND")):
        body = await gql(client, LIST, variables, key=key)
        assert body["errors"][0]["extensions"]["code"] == code, body


async def test_node_and_the_tickets_of_a_case_or_a_payment(client, db, world):
    t, txn, case = await _desk(client, db, world)
    key = world.key("a", "INTEGRATION")
    seen = await node(client, key, t["case"]["id"], "ticketNumber refundCase { id } "
                      "transaction { id } merchant { slug }")
    assert seen["refundCase"]["id"] == case_gid(case) and seen["merchant"]["slug"] == "merchant-a"
    assert await node(client, world.key("b", "ADMIN"), t["case"]["id"], "id") is None
    data = await ok(client, """query($c: ID!, $t: ID!) {
        c: node(id: $c) { ... on RefundCase { complaints { id } } }
        t: node(id: $t) { ... on Transaction { complaints { id } refundCases { id } } } }""",
                    {"c": case_gid(case), "t": txn_gid(txn)}, key=key)
    assert [c["id"] for c in data["c"]["complaints"]] == [t["case"]["id"]]
    assert [c["id"] for c in data["t"]["complaints"]] == [t["open"]["id"], t["repeat"]["id"]]
    repeat = await node(client, key, t["repeat"]["id"], "isRepeat repeatOf { id }")
    assert repeat == {"isRepeat": True, "repeatOf": {"id": t["open"]["id"]}}


async def test_an_agency_desk_sees_all_its_merchants(client, db, world):
    await opened(client, world.key(*SUPPORT), txn=await record_txn(db, world, "a"))
    await opened(client, world.key("b", "SUPPORT"), txn=await record_txn(db, world, "b"))
    await opened(client, world.key("c", "SUPPORT"),
                 txn=await record_txn(db, world, "c", amount="1000", currency="JPY"))
    page = await listed(client, world.key("agency"))
    assert page["totalCount"] == 2
    assert (await listed(client, world.key("c", "VIEWER")))["totalCount"] == 1
