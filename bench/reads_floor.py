"""The floor of each measured read: a plain Starlette endpoint per query, same SQL, same
role, same JSON.

What the GraphQL API does at the database and on the wire, and nothing else: the
connection acts as ``qrefund_app`` (row-level security applies), each request is one
transaction that first publishes the tenant setting, then runs the page's statement;
the answer is the same JSON the API gives (global ids, cursors, decimal strings,
ISO datetimes; ``bench.compare`` checks that before timing). No authentication
(the tenant comes from the ids inside the key) and no GraphQL. Served by
``bench.compare`` with uvicorn: ``uvicorn bench.reads_floor:app``.

Routes: ``POST /cases`` (50 cases + transaction + last event), ``POST /transactions``
(50 transactions), ``POST /case`` (one case and its transaction, by global id),
``POST /complaints`` (50 complaint tickets + the payment each is about); and the write
floor's ``POST /submit``, ``/review``, ``/approve`` (``bench.writes_floor``), on the
same pool.

The complaint page runs the API's own two statements, as SQLAlchemy renders them for
``complaintTickets(first: 50)`` and its ``transaction`` loader: every column of the
table (the column lists are read from the models, so they stay the API's), the
tenant filter the repository adds, ``(created_at, id)`` descending, 51 rows; then the
page's distinct payments by ``(tenant_id, id) IN (unnest, unnest)``.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from operator import itemgetter
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bench.common import libpq_url
from bench.writes_floor import write_routes
from qrefund.graphql_schema.ids import encode, scoped_id
from qrefund.platform.complaints.models import ComplaintTicket
from qrefund.platform.pagination import encode_cursor
from qrefund.platform.transactions.models import Transaction

DATABASE_URL = os.environ.get("QREFUND_BENCH_REFUNDS_DATABASE_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/qrefund_bench_refunds")
SCOPE_SQL = ("SELECT set_config('qrefund.tenant_ids', %(ids)s, true), "
             "set_config('qrefund.all_tenants', 'off', true)")
_CASE_COLUMNS = """c.id, c.case_number, c.status, c.requested_minor, c.approved_minor,
       c.currency, c.reason, c.channel, c.method, c.review_due_at, c.completion_due_at,
       c.escalation_level, c.created_at, c.tenant_id,
       t.id, t.merchant_order_no, t.amount_minor, t.refunded_minor, t.reserved_minor"""
CASES_SQL = f"""
SELECT {_CASE_COLUMNS}, e.type, e.actor, e.occurred_at
FROM refund_cases c
JOIN transactions t ON t.tenant_id = c.tenant_id AND t.id = c.transaction_id
JOIN refund_case_events e ON e.tenant_id = c.tenant_id AND e.case_id = c.id
     AND e.seq = c.event_count
WHERE c.tenant_id = %(tenant)s
ORDER BY c.created_at DESC, c.id DESC LIMIT 51
"""
CASE_SQL = f"""
SELECT {_CASE_COLUMNS}
FROM refund_cases c
JOIN transactions t ON t.tenant_id = c.tenant_id AND t.id = c.transaction_id
WHERE c.tenant_id = %(tenant)s AND c.id = %(id)s
"""
TRANSACTIONS_SQL = """
SELECT id, merchant_order_no, amount_minor, refunded_minor, reserved_minor, currency, status,
       channel, paid_at, terminal_id, tenant_id
FROM transactions WHERE tenant_id = %(tenant)s
ORDER BY paid_at DESC, id DESC LIMIT 51
"""


def _columns(model: Any) -> list[str]:
    """The columns ``select(model)`` reads: every column of the table, in table order."""
    return [column.name for column in model.__table__.columns]


def _select_list(model: Any) -> str:
    table = model.__table__.name
    return ", ".join(f"{table}.{name}" for name in _columns(model))


TICKETS_SQL = f"""
SELECT {_select_list(ComplaintTicket)}
FROM complaint_tickets
WHERE complaint_tickets.tenant_id IN (%(tenant)s::UUID)
ORDER BY complaint_tickets.created_at DESC, complaint_tickets.id DESC
LIMIT 51
"""
TICKET_PAYMENTS_SQL = f"""
SELECT {_select_list(Transaction)}
FROM transactions
WHERE (transactions.tenant_id, transactions.id) IN
      (SELECT unnest(%(tenants)s::UUID[]), unnest(%(ids)s::UUID[]))
  AND transactions.tenant_id IN (%(tenant)s::UUID)
"""


def _picker(model: Any, names: str) -> Any:
    """An itemgetter for these columns of a ``select(model)`` row."""
    columns = _columns(model)
    return itemgetter(*(columns.index(name) for name in names.split()))


_ticket_fields = _picker(ComplaintTicket, """tenant_id id ticket_number status priority
    category channel description assignee team first_response_due_at resolution_due_at
    first_responded_at next_due_at escalation_level repeat_of_id resolution created_at
    updated_at transaction_id""")
_payment_fields = _picker(Transaction, "tenant_id id merchant_order_no amount_minor currency")


async def _configure(conn: AsyncConnection[Any]) -> None:
    await conn.execute('SET ROLE "qrefund_app"')
    await conn.commit()


pool = AsyncConnectionPool(libpq_url(DATABASE_URL), min_size=4, max_size=10, open=False,
                           configure=_configure)


def _money(minor: int | None, currency: str) -> dict[str, str] | None:
    if minor is None:
        return None
    return {"amount": str(Decimal(minor).scaleb(-2).quantize(Decimal("0.01"))),
            "currency": currency}


def _time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _maybe_time(value: datetime | None) -> str | None:
    return None if value is None else _time(value)


def _tenant(request: Request) -> uuid.UUID:
    token = request.headers.get("authorization", "").removeprefix("Bearer ")
    return uuid.UUID(hex=token.split("_")[2][:32])


def _case(r: tuple[Any, ...]) -> dict[str, Any]:
    cur = r[5]
    return {
        "id": encode("RefundCase", r[13], r[0]), "caseNumber": r[1], "status": r[2],
        "requestedAmount": _money(r[3], cur), "approvedAmount": _money(r[4], cur),
        "reason": r[6], "channel": r[7], "method": r[8], "reviewDueAt": _time(r[9]),
        "completionDueAt": _time(r[10]), "escalationLevel": r[11],
        "transaction": {"id": encode("Transaction", r[13], r[14]), "merchantOrderNo": r[15],
                        "amount": _money(r[16], cur),
                        "refundableAmount": _money(max(r[16] - r[17] - r[18], 0), cur)},
    }


async def _rows(tenant: uuid.UUID, sql: str, params: dict[str, Any]) -> list[Any]:
    async with pool.connection() as conn, conn.transaction():
        await conn.execute(SCOPE_SQL, {"ids": str(tenant)})
        return await (await conn.execute(sql, params)).fetchall()


def _json(data: dict[str, Any]) -> Response:
    return Response(json.dumps({"data": data}), media_type="application/json")


def _connection(edges: list[dict[str, Any]], more: bool) -> dict[str, Any]:
    return {"pageInfo": {"hasNextPage": more,
                         "endCursor": edges[-1]["cursor"] if edges else None},
            "edges": edges}


async def cases(request: Request) -> Response:
    tenant = _tenant(request)
    rows = await _rows(tenant, CASES_SQL, {"tenant": tenant})
    edges = []
    for r in rows[:50]:
        node = _case(r)
        node["createdAt"] = _time(r[12])
        node["lastEvent"] = {"type": r[19], "actor": r[20], "occurredAt": _time(r[21])}
        edges.append({"cursor": encode_cursor([r[12], r[0]]), "node": node})
    return _json({"refundCases": _connection(edges, len(rows) > 50)})


async def transactions(request: Request) -> Response:
    tenant = _tenant(request)
    rows = await _rows(tenant, TRANSACTIONS_SQL, {"tenant": tenant})
    edges = [{"cursor": encode_cursor([r[8], r[0]]), "node": {
        "id": encode("Transaction", r[10], r[0]), "merchantOrderNo": r[1],
        "amount": _money(r[2], r[5]),
        "refundableAmount": _money(max(r[2] - r[3] - r[4], 0), r[5]),
        "status": r[6], "channel": r[7], "paidAt": _time(r[8]), "terminalId": r[9]}}
        for r in rows[:50]]
    return _json({"transactions": _connection(edges, len(rows) > 50)})


async def case(request: Request) -> Response:
    body = json.loads(await request.body())
    tenant, case_id = scoped_id(body["variables"]["id"], "RefundCase")
    rows = await _rows(tenant, CASE_SQL, {"tenant": tenant, "id": case_id})
    node = dict(_case(rows[0]), __typename="RefundCase") if rows else None
    return _json({"node": node})


def _ticket_edge(r: tuple[Any, ...], payments: dict[tuple[uuid.UUID, uuid.UUID], dict[str, Any]]
                 ) -> dict[str, Any]:
    (tenant, ident, number, status, priority, category, channel, description, assignee, team,
     first_due, resolution_due, responded, next_due, level, repeat_of, resolution, created,
     updated, payment) = _ticket_fields(r)
    return {"cursor": encode_cursor([_time(created), ident]), "node": {
        "id": encode("ComplaintTicket", tenant, ident), "ticketNumber": number,
        "status": status, "priority": priority, "category": category, "channel": channel,
        "description": description, "assignee": assignee, "team": team,
        "firstResponseDueAt": _time(first_due), "resolutionDueAt": _time(resolution_due),
        "firstRespondedAt": _maybe_time(responded), "nextDueAt": _maybe_time(next_due),
        "escalationLevel": level, "isRepeat": repeat_of is not None, "resolution": resolution,
        "createdAt": _time(created), "updatedAt": _time(updated),
        "transaction": payments.get((tenant, payment))}}


async def complaints(request: Request) -> Response:
    """The complaint page: the tickets, then (as the API's loader does) their distinct
    payments, in one transaction."""
    tenant = _tenant(request)
    async with pool.connection() as conn, conn.transaction():
        await conn.execute(SCOPE_SQL, {"ids": str(tenant)})
        rows = await (await conn.execute(TICKETS_SQL, {"tenant": tenant})).fetchall()
        wanted = list(dict.fromkeys((t[0], t[-1]) for t in map(_ticket_fields, rows[:50])))
        found = await (await conn.execute(TICKET_PAYMENTS_SQL, {
            "tenants": [k[0] for k in wanted], "ids": [k[1] for k in wanted],
            "tenant": tenant})).fetchall() if wanted else []
    payments: dict[tuple[uuid.UUID, uuid.UUID], dict[str, Any]] = {}
    for p in found:
        owner, ident, order_no, minor, currency = _payment_fields(p)
        payments[(owner, ident)] = {"id": encode("Transaction", owner, ident),
                                    "merchantOrderNo": order_no, "amount": _money(minor, currency)}
    edges = [_ticket_edge(r, payments) for r in rows[:50]]
    return _json({"complaintTickets": _connection(edges, len(rows) > 50)})


@asynccontextmanager
async def lifespan(_app: Starlette) -> AsyncIterator[None]:
    await pool.open()
    yield
    await pool.close()


async def healthz(_request: Request) -> Response:
    return PlainTextResponse("ok")


app = Starlette(routes=[Route("/cases", cases, methods=["POST"]),
                        Route("/transactions", transactions, methods=["POST"]),
                        Route("/case", case, methods=["POST"]),
                        Route("/complaints", complaints, methods=["POST"]),
                        *write_routes(pool),
                        Route("/healthz", healthz)], lifespan=lifespan)
