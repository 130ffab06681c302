"""The floor: a plain Starlette endpoint running the same page SQL, returning JSON.

It does what the GraphQL `transactions` first page does at the database, and
nothing else: the same role (``qrefund_app``, so row-level security applies),
the same per-transaction tenant setting, the same keyset query (51 rows, newest
first) and the same output (decimal amounts, cursors). It skips authentication
(the tenant comes from the ids inside the key) and GraphQL. Served by
``bench.run`` with uvicorn: ``uvicorn bench.floor:app``.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bench.common import libpq_url

PAGE_SQL = """
SELECT id, merchant_order_no, amount_minor, refunded_minor, reserved_minor, currency, status,
       channel, paid_at, terminal_id
FROM transactions WHERE tenant_id = %(tenant)s
ORDER BY paid_at DESC, id DESC LIMIT 51
"""
COUNT_SQL = "SELECT count(*) FROM transactions WHERE tenant_id = %(tenant)s"
SCOPE_SQL = (
    "SELECT set_config('qrefund.tenant_ids', %(ids)s, true), "
    "set_config('qrefund.all_tenants', 'off', true)"
)


async def _configure(conn: AsyncConnection[Any]) -> None:
    await conn.execute('SET ROLE "qrefund_app"')
    await conn.commit()


pool = AsyncConnectionPool(libpq_url(), min_size=4, max_size=10, open=False, configure=_configure)


def _money(minor: int) -> dict[str, str]:
    return {"amount": str(Decimal(minor).scaleb(-2).quantize(Decimal("0.01"))), "currency": "CNY"}


def _cursor(row: tuple[Any, ...]) -> str:
    raw = json.dumps([row[8].isoformat(), str(row[0])]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def page(request: Request) -> Response:
    token = request.headers.get("authorization", "").removeprefix("Bearer ")
    tenant = uuid.UUID(hex=token.split("_")[2][:32])
    async with pool.connection() as conn, conn.transaction():
        await conn.execute(SCOPE_SQL, {"ids": str(tenant)})
        rows = await (await conn.execute(PAGE_SQL, {"tenant": tenant})).fetchall()
        total = None
        if request.query_params.get("count"):
            total = (await (await conn.execute(COUNT_SQL, {"tenant": tenant})).fetchone() or [0])[0]
    edges = [
        {
            "cursor": _cursor(r),
            "node": {
                "id": str(r[0]),
                "merchantOrderNo": r[1],
                "amount": _money(r[2]),
                "refundableAmount": _money(max(r[2] - r[3] - r[4], 0)),
                "status": r[6],
                "channel": r[7],
                "paidAt": r[8].isoformat(),
                "terminalId": r[9],
            },
        }
        for r in rows[:50]
    ]
    info = {"hasNextPage": len(rows) > 50, "endCursor": edges[-1]["cursor"] if edges else None}
    result = {"edges": edges, "pageInfo": info, "totalCount": total}
    return JSONResponse({"data": {"transactions": result}})


@asynccontextmanager
async def lifespan(_app: Starlette) -> AsyncIterator[None]:
    await pool.open()
    yield
    await pool.close()


async def healthz(_request: Request) -> Response:
    return Response("ok")


app = Starlette(
    routes=[Route("/page", page, methods=["POST"]), Route("/healthz", healthz)], lifespan=lifespan
)
