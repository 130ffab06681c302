"""The statement count of a `transactions`, `refundCases` or `complaintTickets` page does
not grow with the page size, nested complaint relations included."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from graphql import GraphQLObjectType, build_schema, get_named_type, is_leaf_type
from sqlalchemy import event

from qrefund.app import create_app
from qrefund.graphql_schema.schema import print_sdl
from qrefund.platform.clock import utcnow
from qrefund.platform.complaints import intake as complaints_intake
from qrefund.platform.complaints import service as complaints
from qrefund.platform.complaints.vocabulary import ComplaintCategory, ComplaintResolution
from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from qrefund.platform.refunds import intake
from qrefund.platform.transactions import service
from qrefund.platform.transactions.models import PaymentChannel, TransactionStatus
from qrefund.platform.vocabulary import EvidenceType, RefundReason, RequestChannel
from qrefund.tenants.auth import authenticate
from tests.support.graphql import ok
from tests.support.world import World


@contextmanager
def counting(db: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engines = {id(e): e for e in (db.read_engine, db.write_engine)}.values()
    for engine in engines:
        event.listen(engine.sync_engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        for engine in engines:
            event.remove(engine.sync_engine, "before_cursor_execute", before)


def _selection(type_: Any, depth: int) -> str:
    """Scalar fields of an object type, and (one level down) of the objects it links to."""
    parts = []
    for name, field in type_.fields.items():
        named = get_named_type(field.type)
        if is_leaf_type(named):
            parts.append(name)
        elif depth > 0 and isinstance(named, GraphQLObjectType) and not field.args:
            parts.append(f"{name} {{ {_selection(named, depth - 1)} }}")
    return " ".join(parts)


def _page_query(type_name: str = "Transaction", field: str = "transactions") -> str:
    """Every field of the type, so a field added later with an N+1 shows up here."""
    schema = build_schema(print_sdl())
    node = _selection(schema.type_map[type_name], depth=1)
    assert "merchant {" in node
    return (
        "query($first: Int!) { " + field + "(first: $first) { totalCount "
        "edges { cursor node { " + node + " } } } }"
    )


async def _statements_per_size(client: httpx.AsyncClient, db: Database, query: str, key: str,
                               field: str) -> dict[int, int]:
    await ok(client, query, {"first": 1}, key=key)  # warm up: pool connections, last-used stamp
    counts = {}
    for size in (1, 5, 50):
        with counting(db) as statements:
            data = await ok(client, query, {"first": size}, key=key)
        assert len(data[field]["edges"]) == size
        counts[size] = len(statements)
    return counts


async def test_statements_per_page_do_not_grow_with_page_size(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    scope = await authenticate(db, world.key("a", "INTEGRATION"))
    async with db.unit_of_work(scope) as uow:
        for i in range(60):
            await service.record(
                uow,
                service.RecordTransaction(
                    merchant_id=None,
                    merchant_order_no=f"N1-{i}",
                    channel=PaymentChannel.ALIPAY,
                    provider_reference=f"r{i}",
                    amount=Decimal("9.99"),
                    currency="CNY",
                    status=TransactionStatus.SUCCEEDED,
                    paid_at=datetime(2026, 10, 1, tzinfo=UTC) + timedelta(minutes=i),
                ),
            )
    counts = await _statements_per_size(client, db, _page_query(), world.key("a"),
                                        "transactions")
    assert counts[1] == counts[5] == counts[50], counts
    # auth (key, tenant), scope, page, count, merchants, ..., anomaly flags
    assert counts[50] <= 9, counts


async def _worked_tickets(db: Database, world: World, n: int) -> None:
    """``n`` tickets about refund cases, each with a reply, an internal note and an
    attachment, all from one contact (so repeats link), half resolved with a follow-up."""
    scope = await authenticate(db, world.key("a", "ADMIN"))
    async with db.unit_of_work(scope) as uow:
        for i in range(n):
            txn = await service.record(uow, service.RecordTransaction(
                merchant_id=None, merchant_order_no=f"C-{i}", channel=PaymentChannel.ALIPAY,
                provider_reference=f"c{i}", amount=Decimal("50.00"), currency="CNY",
                status=TransactionStatus.SUCCEEDED, paid_at=utcnow() - timedelta(hours=1)))
            case = await intake.submit(uow, intake.SubmitRefund(
                tenant_id=txn.tenant_id, transaction_id=txn.id, amount=Decimal("5.00"),
                reason=RefundReason.OTHER, channel=RequestChannel.API))
            ticket = await complaints_intake.open_ticket(uow, complaints_intake.OpenComplaint(
                category=ComplaintCategory.REFUND_DELAY, description=f"late {i}",
                refund_case=(case.tenant_id, case.id), contact_email="same@example.com",
                attachments=[complaints_intake.Attachment(EvidenceType.PHOTO, "a.jpg", 10,
                                                          "ab" * 32)]))
            await complaints.reply(uow, *ticket.key, message="On it")
            await complaints.reply(uow, *ticket.key, message="note", internal=True)
            if i % 2:
                await complaints.resolve(
                    uow, *ticket.key, resolution=ComplaintResolution.GOODWILL, note="Voucher",
                    follow_up=complaints.FollowUpRefund(amount=Decimal("1.00")))


async def test_complaint_ticket_pages_do_not_grow_with_page_size(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    await _worked_tickets(db, world, 52)
    counts = await _statements_per_size(
        client, db, _page_query("ComplaintTicket", "complaintTickets"), world.key("a"),
        "complaintTickets")
    assert counts[1] == counts[5] == counts[50], counts
    # auth, scope, page, count; refund cases (both links), payments, repeats, merchants,
    # messages, timelines, attachments
    assert counts[50] <= 12, counts


# The relations a support desk shows on a ticket list, one level further down than the
# schema walk above: the case's own payment, timeline and tickets; the payment's cases
# and tickets. Each one is a loader, so the total must not move with the page size.
_THREAD = "messages { body internal author createdAt } events { seq type note occurredAt }"
_TICKET_TREE = (
    "id ticketNumber status " + _THREAD + " attachments { filename } "
    "refundCase { id caseNumber status transaction { id merchantOrderNo } "
    "  events { seq type } complaints { id ticketNumber } } "
    "followUpRefundCase { id status transaction { id } } "
    "transaction { id merchantOrderNo refundCases { id status } "
    "  complaints { id " + _THREAD + " } } "
    "repeatOf { id ticketNumber " + _THREAD + " } merchant { id name }"
)
_NESTED_TICKETS = ("query($first: Int!) { complaintTickets(first: $first) { totalCount "
                   "edges { cursor node { " + _TICKET_TREE + " } } } }")
# Every ticket hangs off a case and a payment: a case or payment list that nests them
# (with their thread, timeline, case and payment) costs the same at any page size.
_TICKET_LEAF = ("id ticketNumber " + _THREAD + " refundCase { id caseNumber } "
                "transaction { id merchantOrderNo }")
_CASES_WITH_TICKETS = ("query($first: Int!) { refundCases(first: $first) { totalCount "
                       "edges { cursor node { id caseNumber complaints { " + _TICKET_LEAF
                       + " } transaction { id complaints { id } } } } } }")
_PAYMENTS_WITH_TICKETS = ("query($first: Int!) { transactions(first: $first) { totalCount "
                          "edges { cursor node { id merchantOrderNo complaints { "
                          + _TICKET_LEAF + " } refundCases { id complaints { id } } } } } }")


@pytest.fixture
async def wide_client(settings: Settings, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app whose cost limit admits these deep documents at 50 rows (the
    limit refuses them by design; what is measured here is the SQL behind them)."""
    app = create_app(settings.model_copy(update={"max_query_cost": 1_000_000}), db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def test_nested_complaint_relations_do_not_grow_with_page_size(
    wide_client: httpx.AsyncClient, world: World, db: Database
) -> None:
    await _worked_tickets(db, world, 52)
    counts = await _statements_per_size(wide_client, db, _NESTED_TICKETS, world.key("a"),
                                        "complaintTickets")
    assert counts[1] == counts[5] == counts[50], counts
    # 18 on PostgreSQL: the flat page's, one batch per relation a level further down, and
    # a second thread and timeline batch for the tickets found there (repeats, the
    # payment's tickets).
    assert counts[50] <= 18, counts


async def test_case_and_payment_lists_with_their_tickets_do_not_grow_with_page_size(
    wide_client: httpx.AsyncClient, world: World, db: Database
) -> None:
    # 52 payments, each with one refund case (and half a follow-up case) and a ticket
    await _worked_tickets(db, world, 52)
    for query, field in ((_CASES_WITH_TICKETS, "refundCases"),
                         (_PAYMENTS_WITH_TICKETS, "transactions")):
        counts = await _statements_per_size(wide_client, db, query, world.key("a"), field)
        # The newest case may be a follow-up with no ticket, so one row can skip the
        # tickets' own relations; from 5 rows on every relation is asked for.
        assert counts[1] <= counts[5] == counts[50], (field, counts)
        assert counts[50] <= 12, (field, counts)  # 11 and 12 on PostgreSQL
