"""Complaint tickets: the 50-ticket desk page (case, payment and thread nested) vs a
raw-SQL floor.

    .venv/bin/python -m bench.complaints generate [--tickets 3000] [--merchants 3]
    .venv/bin/python -m bench.complaints run [--duration 10] [--concurrency 8]

``generate`` re-creates the database named by QREFUND_BENCH_COMPLAINTS_DATABASE_URL
(default ``qrefund_bench_complaints``), migrates it and fills it through the real
services: per ticket a payment, for two in three a refund case it is about, the
ticket itself, an assignment, a public reply and an internal note, and for one in
three a resolution; keys go to ``bench/results/complaint_keys.json``.

``run`` serves the API (``qrefund.app:create_app``, production settings, one
process) and the floor (a plain Starlette endpoint running the equivalent SQL as
the same RLS-bound role with the same tenant setting: one keyset statement for the
51 tickets joined to their case and payment, one for their threads; JSON out, no
authentication, no GraphQL) with uvicorn on 127.0.0.1, drives each with N
concurrent clients (a merchant's SUPPORT key, so internal notes are in both) for a
fixed time after a warm-up, checks every response (200, no errors, 50 edges), and
prints requests/s, p50 and p99 and the API/floor ratio. ``GET /healthz`` of the API
is measured first: the ceiling of the harness itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import psycopg
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.engine import make_url
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bench.common import RESULTS, recreate_database, wait_ready

KEYS_FILE = RESULTS / "complaint_keys.json"
DATABASE_URL = os.environ.get(
    "QREFUND_BENCH_COMPLAINTS_DATABASE_URL",
    "postgresql+psycopg://postgres@127.0.0.1:5432/qrefund_bench_complaints")
ENCRYPTION_KEY = "bench:" + "C" * 43
# Production settings want Redis (the page never touches it) and a public https address.
REDIS_URL = os.environ.get("QREFUND_BENCH_REDIS_URL", "redis://127.0.0.1:6379/8")
CATEGORIES = ["REFUND_DELAY", "REFUND_REJECTED", "WRONG_AMOUNT", "SERVICE", "QUALITY", "OTHER"]

PAGE_QUERY = """query Page($first: Int!) { complaintTickets(first: $first) {
  pageInfo { hasNextPage endCursor }
  edges { cursor node { id ticketNumber status priority category channel assignee
    firstResponseDueAt resolutionDueAt nextDueAt escalationLevel createdAt
    refundCase { id caseNumber status }
    transaction { id merchantOrderNo amount { amount currency } }
    messages { body internal author createdAt } } } } }"""

FLOOR_SQL = """
SELECT t.id, t.ticket_number, t.status, t.priority, t.category, t.channel, t.assignee,
       t.first_response_due_at, t.resolution_due_at, t.next_due_at, t.escalation_level,
       t.created_at, c.id, c.case_number, c.status, x.id, x.merchant_order_no,
       x.amount_minor, x.currency
FROM complaint_tickets t
JOIN transactions x ON x.tenant_id = t.tenant_id AND x.id = t.transaction_id
LEFT JOIN refund_cases c ON c.tenant_id = t.tenant_id AND c.id = t.refund_case_id
WHERE t.tenant_id = %(tenant)s
ORDER BY t.created_at DESC, t.id DESC LIMIT 51
"""
THREAD_SQL = """
SELECT ticket_id, body, internal, author, created_at FROM complaint_messages
WHERE tenant_id = %(tenant)s AND ticket_id = ANY(%(ids)s)
ORDER BY ticket_id, created_at, id
"""
SCOPE_SQL = ("SELECT set_config('qrefund.tenant_ids', %(ids)s, true), "
             "set_config('qrefund.all_tenants', 'off', true)")


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


# -- data -------------------------------------------------------------------------------


async def _world(db: Any, merchants: int) -> dict[str, str]:
    from qrefund.platform.roles import Role
    from qrefund.tenants import service as tenants
    from qrefund.tenants.auth import authenticate
    from qrefund.tenants.bootstrap import bootstrap

    _operator, operator_key = await bootstrap(db)
    keys: dict[str, str] = {}
    async with db.unit_of_work(await authenticate(db, operator_key)) as uow:
        agency = await tenants.create_agency(uow, name="Desk Agency", slug="desk-agency")
        for i in range(merchants):
            shop = await tenants.create_merchant(
                uow, name=f"Desk {i}", slug=f"desk-shop-{i}", agency_id=agency.id,
                timezone="Asia/Shanghai", default_currency="CNY")
            for role in (Role.ADMIN, Role.SUPPORT):
                _k, keys[f"{i}:{role.value}"] = await tenants.create_api_key(
                    uow, tenant_id=shop.id, name=f"bench {role.value}", role=role,
                    expires_at=None)
    return keys


async def _one_ticket(db: Any, scope: Any, index: int, n: int) -> None:
    """A worked ticket in one unit of work, through the services."""
    from qrefund.platform.clock import utcnow
    from qrefund.platform.complaints import intake as tickets
    from qrefund.platform.complaints import service
    from qrefund.platform.complaints.vocabulary import ComplaintCategory, ComplaintResolution
    from qrefund.platform.refunds import intake as refunds
    from qrefund.platform.transactions import service as payments
    from qrefund.platform.transactions.models import PaymentChannel, TransactionStatus
    from qrefund.platform.vocabulary import RefundReason, RequestChannel

    async with db.unit_of_work(scope) as uow:
        txn = await payments.record(uow, payments.RecordTransaction(
            merchant_id=None, merchant_order_no=f"D{index}-{n}", channel=PaymentChannel.WECHAT_PAY,
            provider_reference=f"wx-{index}-{n}", amount=Decimal(20 + n % 300), currency="CNY",
            status=TransactionStatus.SUCCEEDED, paid_at=utcnow() - timedelta(hours=2 + n % 200)))
        case = None
        if n % 3:
            case = await refunds.submit(uow, refunds.SubmitRefund(
                tenant_id=txn.tenant_id, transaction_id=txn.id, amount=Decimal("5.00"),
                reason=RefundReason.OTHER, channel=RequestChannel.API))
        ticket = await tickets.open_ticket(uow, tickets.OpenComplaint(
            category=ComplaintCategory(CATEGORIES[n % len(CATEGORIES)]),
            description=f"Complaint {n}: the refund has not arrived.",
            transaction=None if case else (txn.tenant_id, txn.id),
            refund_case=(case.tenant_id, case.id) if case else None,
            contact_email=f"consumer{n % 700}@example.com"))
        await service.assign(uow, *ticket.key, assignee=f"agent-{n % 7}")
        await service.reply(uow, *ticket.key, message="Thank you, we are looking into it.")
        await service.reply(uow, *ticket.key, message="Checked the POS log.", internal=True)
        if n % 3 == 0:
            await service.resolve(uow, *ticket.key, resolution=ComplaintResolution.EXPLAINED,
                                  note="The refund was sent on Monday.")


async def _generate(args: argparse.Namespace) -> None:
    from qrefund.migrations.runner import migrate
    from qrefund.platform.config import Settings
    from qrefund.platform.db import Database
    from qrefund.tenants.auth import authenticate

    recreate_database(DATABASE_URL)
    settings = Settings(database_url=DATABASE_URL, encryption_key=ENCRYPTION_KEY,
                        _env_file=None)  # type: ignore[call-arg]
    migrate(settings)
    db = Database(settings)
    started = time.perf_counter()
    try:
        keys = await _world(db, args.merchants)
        per_merchant = args.tickets // args.merchants
        for i in range(args.merchants):
            scope = await authenticate(db, keys[f"{i}:ADMIN"])
            for start in range(0, per_merchant, 8):
                await asyncio.gather(*(_one_ticket(db, scope, i, n)
                                       for n in range(start, min(start + 8, per_merchant))))
            print(f"merchant {i}: {per_merchant} tickets "
                  f"({time.perf_counter() - started:.0f}s)", flush=True)
    finally:
        await db.dispose()
    with psycopg.connect(_libpq(DATABASE_URL), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    RESULTS.mkdir(exist_ok=True)
    KEYS_FILE.write_text(json.dumps({"keys": keys, "merchants": args.merchants}))
    print(f"wrote {KEYS_FILE}")


# -- the floor --------------------------------------------------------------------------


async def _configure(conn: Any) -> None:
    await conn.execute('SET ROLE "qrefund_app"')
    await conn.commit()


_pool = AsyncConnectionPool(_libpq(DATABASE_URL), min_size=4, max_size=10, open=False,
                            configure=_configure)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _floor_edge(r: tuple[Any, ...], thread: list[dict[str, Any]]) -> dict[str, Any]:
    amount = str(Decimal(r[17]).scaleb(-2).quantize(Decimal("0.01")))
    return {"cursor": f"{r[11].isoformat()}|{r[0]}", "node": {
        "id": str(r[0]), "ticketNumber": r[1], "status": r[2], "priority": r[3],
        "category": r[4], "channel": r[5], "assignee": r[6],
        "firstResponseDueAt": _iso(r[7]), "resolutionDueAt": _iso(r[8]),
        "nextDueAt": _iso(r[9]), "escalationLevel": r[10], "createdAt": r[11].isoformat(),
        "refundCase": {"id": str(r[12]), "caseNumber": r[13], "status": r[14]}
        if r[12] is not None else None,
        "transaction": {"id": str(r[15]), "merchantOrderNo": r[16],
                        "amount": {"amount": amount, "currency": r[18]}},
        "messages": thread}}


async def _floor_page(request: Request) -> Response:
    token = request.headers.get("authorization", "").removeprefix("Bearer ")
    tenant = uuid.UUID(hex=token.split("_")[2][:32])
    threads: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    async with _pool.connection() as conn, conn.transaction():
        await conn.execute(SCOPE_SQL, {"ids": str(tenant)})
        rows = await (await conn.execute(FLOOR_SQL, {"tenant": tenant})).fetchall()
        wanted = [r[0] for r in rows[:50]]
        for m in await (await conn.execute(THREAD_SQL, {"tenant": tenant, "ids": wanted})
                        ).fetchall():
            threads[m[0]].append({"body": m[1], "internal": m[2], "author": m[3],
                                  "createdAt": m[4].isoformat()})
    edges = [_floor_edge(r, threads[r[0]]) for r in rows[:50]]
    info = {"hasNextPage": len(rows) > 50, "endCursor": edges[-1]["cursor"] if edges else None}
    return JSONResponse({"data": {"complaintTickets": {"edges": edges, "pageInfo": info}}})


@asynccontextmanager
async def _lifespan(_app: Starlette) -> AsyncIterator[None]:
    await _pool.open()
    yield
    await _pool.close()


async def _ok(_request: Request) -> Response:
    return PlainTextResponse("ok")


floor_app = Starlette(routes=[Route("/page", _floor_page, methods=["POST"]),
                              Route("/healthz", _ok)], lifespan=_lifespan)


# -- measuring --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _server(module: str, port: int, *, factory: bool) -> subprocess.Popen[bytes]:
    env = {**os.environ, "QREFUND_DATABASE_URL": DATABASE_URL,
           "QREFUND_ENCRYPTION_KEY": ENCRYPTION_KEY, "QREFUND_ENVIRONMENT": "production",
           "QREFUND_LOG_LEVEL": "WARNING", "QREFUND_BENCH_COMPLAINTS_DATABASE_URL": DATABASE_URL,
           "QREFUND_REDIS_URL": REDIS_URL, "QREFUND_PUBLIC_BASE_URL": "https://refunds.example"}
    cmd = [sys.executable, "-m", "uvicorn", module, "--host", "127.0.0.1", "--port", str(port),
           "--log-level", "warning", "--no-access-log", *(["--factory"] if factory else [])]
    return subprocess.Popen(cmd, env=env)


def _good(response: httpx.Response, payload: Any) -> bool:
    if response.status_code != 200:
        return False
    if payload is None:
        return True
    body = response.json()
    edges = ((body.get("data") or {}).get("complaintTickets") or {}).get("edges") or []
    return "errors" not in body and len(edges) == 50 and all(
        e["node"]["messages"] for e in edges)


async def _drive(name: str, method: str, url: str, payload: Any, key: str, concurrency: int,
                 duration: float, warmup: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0

    async def worker(until: float, record: bool) -> None:
        nonlocal errors
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {key}"},
                                     timeout=30) as client:
            while time.perf_counter() < until:
                started = time.perf_counter()
                response = await client.request(method, url, json=payload)
                elapsed = time.perf_counter() - started
                if record:
                    latencies.append(elapsed)
                    errors += 0 if _good(response, payload) else 1

    await asyncio.gather(*(worker(time.perf_counter() + warmup, False)
                           for _ in range(concurrency)))
    started = time.perf_counter()
    await asyncio.gather(*(worker(started + duration, True) for _ in range(concurrency)))
    took = time.perf_counter() - started
    ordered = sorted(latencies)
    return {"name": name, "requests": len(ordered), "errors": errors,
            "rps": len(ordered) / took, "p50_ms": statistics.median(ordered) * 1000,
            "p99_ms": ordered[min(int(len(ordered) * 0.99), len(ordered) - 1)] * 1000}


async def _run(args: argparse.Namespace) -> list[dict[str, Any]]:
    if not KEYS_FILE.exists():
        raise SystemExit(f"{KEYS_FILE} is missing: run `python -m bench.complaints generate`")
    key = json.loads(KEYS_FILE.read_text())["keys"]["0:SUPPORT"]
    api_port, floor_port = _free_port(), _free_port()
    servers = [_server("qrefund.app:create_app", api_port, factory=True),
               _server("bench.complaints:floor_app", floor_port, factory=False)]
    try:
        await wait_ready(f"http://127.0.0.1:{api_port}/healthz")
        await wait_ready(f"http://127.0.0.1:{floor_port}/healthz")
        runs = [
            ("ceiling (GET /healthz)", "GET", f"http://127.0.0.1:{api_port}/healthz", None),
            ("floor (Starlette + SQL)", "POST", f"http://127.0.0.1:{floor_port}/page",
             {"first": 50}),
            ("API (complaintTickets)", "POST", f"http://127.0.0.1:{api_port}/graphql",
             {"query": PAGE_QUERY, "variables": {"first": 50}}),
        ]
        return [await _drive(name, method, url, payload, key, args.concurrency, args.duration,
                             args.warmup) for name, method, url, payload in runs]
    finally:
        for server in servers:
            server.send_signal(signal.SIGINT)
        for server in servers:
            server.wait(timeout=60)


def _report(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(f"complaintTickets first page (50 tickets + case + payment + thread), "
          f"{args.concurrency} concurrent clients, {args.duration:.0f}s each after "
          f"{args.warmup:.0f}s warm-up")
    print(f"{'':30} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'errors':>7}")
    for r in results:
        print(f"{r['name']:30} {r['rps']:9.0f} {r['p50_ms']:9.2f} {r['p99_ms']:9.2f} "
              f"{r['errors']:7d}")
    _ceiling, floor, api = results
    print(f"API / floor: {floor['rps'] / api['rps']:.2f}x fewer req/s, "
          f"p50 {api['p50_ms'] / floor['p50_ms']:.2f}x, p99 {api['p99_ms'] / floor['p99_ms']:.2f}x")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "complaints.json").write_text(
        json.dumps({"args": vars(args), "results": results}, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate")
    gen.add_argument("--tickets", type=int, default=3000)
    gen.add_argument("--merchants", type=int, default=3)
    run = sub.add_parser("run")
    run.add_argument("--duration", type=float, default=10.0)
    run.add_argument("--warmup", type=float, default=2.0)
    run.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    if args.command == "generate":
        asyncio.run(_generate(args))
    else:
        _report(asyncio.run(_run(args)), args)


if __name__ == "__main__":
    main()
