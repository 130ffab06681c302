"""Refund cases: the 50-case page (nested transaction and last event) vs a raw-SQL floor,
and the latency of submitRefundRequest + approveRefund.

    .venv/bin/python -m bench.refund_cases generate [--cases 4000] [--merchants 16]
        [--mutations 2000] [--complaints 250]
    .venv/bin/python -m bench.refund_cases run [--duration 10] [--concurrency 8]

``generate`` re-creates the database named by QREFUND_BENCH_REFUNDS_DATABASE_URL
(default ``qrefund_bench_refunds``), migrates it and fills it through the real
services (cases in every early state, their timelines, spare payments for the
mutation runs: ``--mutations`` for merchant 0, a quarter of it for each other one, which
by default feeds ``bench.compare``'s write runs: 3 rounds x (API + floor) x (1 merchant
+ 16 merchants) x 300 requests), and ``--complaints`` complaint tickets per merchant
about its payments and cases, worked into every status: ``bench.complaint_tickets``);
keys (VIEWER, REFUND_AGENT, INTEGRATION and SUPPORT per merchant) go to
``bench/results/refund_keys.json``. ``run`` serves the
API (``qrefund.app:create_app``) and the floor (a plain Starlette endpoint running
the equivalent SQL as the same RLS-bound role, returning JSON) with uvicorn on
127.0.0.1, drives each with N concurrent clients for a fixed time after a warm-up,
prints requests/s, p50 and p99 and the ratio, then times submit + approve through
the API.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any, NamedTuple

import httpx
import psycopg
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.engine import make_url
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bench import complaint_tickets
from bench.common import recreate_database, wait_ready

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
KEYS_FILE = os.path.join(RESULTS, "refund_keys.json")
DATABASE_URL = os.environ.get("QREFUND_BENCH_REFUNDS_DATABASE_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/qrefund_bench_refunds")
ENCRYPTION_KEY = "bench:" + "R" * 43
REASONS = ["QUALITY_ISSUE", "DUPLICATE_CHARGE", "NOT_RECEIVED", "AMOUNT_MISMATCH", "OTHER"]
CHANNELS = ["POS_QR", "APP", "PHONE", "WEB", "API"]

PAGE_QUERY = """query Page($first: Int!) { refundCases(first: $first) {
  pageInfo { hasNextPage endCursor }
  edges { cursor node { id caseNumber status requestedAmount { amount currency }
    approvedAmount { amount currency } reason channel method reviewDueAt completionDueAt
    escalationLevel createdAt
    transaction { id merchantOrderNo amount { amount currency } refundableAmount { amount } }
    lastEvent { type actor occurredAt } } } } }"""

FLOOR_SQL = """
SELECT c.id, c.case_number, c.status, c.requested_minor, c.approved_minor, c.currency,
       c.reason, c.channel, c.method, c.review_due_at, c.completion_due_at,
       c.escalation_level, c.created_at, c.tenant_id,
       t.id, t.merchant_order_no, t.amount_minor, t.refunded_minor, t.reserved_minor,
       e.type, e.actor, e.occurred_at
FROM refund_cases c
JOIN transactions t ON t.tenant_id = c.tenant_id AND t.id = c.transaction_id
JOIN refund_case_events e ON e.tenant_id = c.tenant_id AND e.case_id = c.id
     AND e.seq = c.event_count
WHERE c.tenant_id = %(tenant)s
ORDER BY c.created_at DESC, c.id DESC LIMIT 51
"""
SCOPE_SQL = ("SELECT set_config('qrefund.tenant_ids', %(ids)s, true), "
             "set_config('qrefund.all_tenants', 'off', true)")


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


# -- data -------------------------------------------------------------------------------


def _settings() -> Any:
    from qrefund.platform.config import Settings

    return Settings(database_url=DATABASE_URL, encryption_key=ENCRYPTION_KEY,
                    _env_file=None)  # type: ignore[call-arg]


async def _world(db: Any, merchants: int) -> tuple[list[Any], dict[str, str]]:
    from qrefund.platform.roles import Role
    from qrefund.tenants import service as tenants
    from qrefund.tenants.auth import authenticate
    from qrefund.tenants.bootstrap import bootstrap

    _operator, operator_key = await bootstrap(db)
    scope = await authenticate(db, operator_key)
    keys: dict[str, str] = {}
    async with db.unit_of_work(scope) as uow:
        agency = await tenants.create_agency(uow, name="Bench Agency", slug="bench-agency")
        shops = [await tenants.create_merchant(
            uow, name=f"Shop {i}", slug=f"bench-shop-{i}", agency_id=agency.id,
            timezone="Asia/Shanghai", default_currency="CNY") for i in range(merchants)]
        for i, shop in enumerate(shops):
            for role in (Role.VIEWER, Role.REFUND_AGENT, Role.INTEGRATION, Role.SUPPORT):
                _k, keys[f"{i}:{role.value}"] = await tenants.create_api_key(
                    uow, tenant_id=shop.id, name=f"bench {role.value}", role=role,
                    expires_at=None)
        for i, shop in enumerate(shops):
            await _alipay_account(uow, shop.id, i)
    return shops, keys


async def _alipay_account(uow: Any, merchant_id: Any, index: int) -> None:
    """An Alipay account per merchant, so that approvals route to it under production
    settings (without one they are refused: CHANNEL_NOT_CONFIGURED). No worker runs in
    the benchmark, so nothing is ever sent with these throwaway keys."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from qrefund.platform.channels import service as channels
    from qrefund.platform.channels.models import AccountChannel

    def pem_pair() -> tuple[str, str]:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        return private, public

    app_private, _ = pem_pair()
    _, alipay_public = pem_pair()
    await channels.create_account(uow, channels.CreateAccount(
        channel=AccountChannel.ALIPAY, merchant_id=merchant_id,
        alipay=channels.AlipayFields(app_id=f"20210000000{index:05d}",
                                     app_private_key=app_private,
                                     alipay_public_key=alipay_public)))


class Filled(NamedTuple):
    """What ``_fill_merchant`` made: the spare payments' ids, and the keys of the payments
    the cases are about and of the cases (what complaint tickets may name)."""

    spare: list[str]
    payments: list[complaint_tickets.Key]
    cases: list[complaint_tickets.Key]


async def _fill_merchant(db: Any, keys: dict[str, str], index: int, cases: int,
                         spare: int) -> Filled:
    """Cases for one merchant (through the services), plus spare payments."""
    from qrefund.platform.clock import utcnow
    from qrefund.platform.refunds import intake, service
    from qrefund.platform.transactions import service as transactions
    from qrefund.platform.transactions.models import PaymentChannel, TransactionStatus
    from qrefund.platform.vocabulary import RefundReason, RequestChannel
    from qrefund.tenants.auth import authenticate

    rng = random.Random(index)
    opened: list[complaint_tickets.Key] = []
    integration = await authenticate(db, keys[f"{index}:INTEGRATION"])
    agent = await authenticate(db, keys[f"{index}:REFUND_AGENT"])

    async def payment(n: int) -> Any:
        async with db.unit_of_work(integration) as uow:
            return await transactions.record(uow, transactions.RecordTransaction(
                merchant_id=None, merchant_order_no=f"B{index}-{n}", channel=PaymentChannel.ALIPAY,
                provider_reference=f"ali-{index}-{n}", amount=Decimal(rng.randint(1000, 5000)),
                currency="CNY", status=TransactionStatus.SUCCEEDED,
                paid_at=utcnow() - timedelta(days=rng.randint(0, 20))))

    async def one(n: int, txn: Any) -> None:
        async with db.unit_of_work(integration) as uow:
            case = await intake.submit(uow, intake.SubmitRefund(
                tenant_id=txn.tenant_id, transaction_id=txn.id, amount=Decimal("10.00"),
                reason=RefundReason(REASONS[n % 5]), channel=RequestChannel(CHANNELS[n % 5]),
                description="bench case"))
        opened.append((case.tenant_id, case.id))
        roll = n % 20
        if roll >= 12:
            async with db.unit_of_work(agent) as uow:
                await service.start_review(uow, case.tenant_id, case.id)
        if roll >= 16:
            async with db.unit_of_work(agent) as uow:
                if roll == 19:
                    await service.reject(uow, case.tenant_id, case.id, reason="bench")
                else:
                    await service.approve(uow, case.tenant_id, case.id, amount=Decimal("8.00"))

    payments = [await payment(n) for n in range(max(cases // 10, 1) + spare)]
    batch = 8
    for start in range(0, cases, batch):
        await asyncio.gather(*(one(n, payments[n % (len(payments) - spare)])
                               for n in range(start, min(start + batch, cases))))
    used = [(p.tenant_id, p.id) for p in payments[:len(payments) - spare]]
    return Filled([str(p.id) for p in payments[-spare:]], used, sorted(opened))


async def _generate(args: argparse.Namespace) -> None:
    from qrefund.migrations.runner import migrate
    from qrefund.platform.db import Database

    recreate_database(DATABASE_URL)
    settings = _settings()
    migrate(settings)
    os.environ["QREFUND_ENCRYPTION_KEY"] = ENCRYPTION_KEY
    db = Database(settings)
    try:
        shops, keys = await _world(db, args.merchants)
        started = time.perf_counter()
        spare: dict[str, list[str]] = {}
        complaints_took = 0.0
        for i, shop in enumerate(shops):
            filled = await _fill_merchant(
                db, keys, i, args.cases // args.merchants,
                args.mutations if i == 0 else max(args.mutations // 4, 1))
            spare[str(shop.id)] = filled.spare
            print(f"merchant {i}: {args.cases // args.merchants} cases "
                  f"({time.perf_counter() - started:.0f}s)", flush=True)
            begun = time.perf_counter()
            await complaint_tickets.fill(db, keys[f"{i}:SUPPORT"], filled.payments,
                                         filled.cases, args.complaints)
            complaints_took += time.perf_counter() - begun
            print(f"merchant {i}: {args.complaints} complaint tickets "
                  f"({time.perf_counter() - started:.0f}s)", flush=True)
        print(f"generated in {time.perf_counter() - started:.0f}s, of which complaint "
              f"tickets {complaints_took:.0f}s", flush=True)
    finally:
        await db.dispose()
    with psycopg.connect(_libpq(DATABASE_URL), autocommit=True) as conn:
        conn.execute("ANALYZE")
    _save_keys({"keys": keys, "merchant": str(shops[0].id), "spare": spare[str(shops[0].id)],
                "merchants": [str(shop.id) for shop in shops],
                "spare_by_merchant": [spare[str(shop.id)] for shop in shops]})


def _save_keys(data: dict[str, Any]) -> None:
    os.makedirs(RESULTS, exist_ok=True)
    with open(KEYS_FILE, "w") as f:
        json.dump(data, f)
    print(f"wrote {KEYS_FILE}")


def _load_keys() -> dict[str, Any]:
    if not os.path.exists(KEYS_FILE):
        raise SystemExit(f"{KEYS_FILE} is missing: run `python -m bench.refund_cases generate`")
    with open(KEYS_FILE) as f:
        data: dict[str, Any] = json.load(f)
    return data


# -- the floor --------------------------------------------------------------------------


async def _configure(conn: Any) -> None:
    await conn.execute('SET ROLE "qrefund_app"')
    await conn.commit()


_pool = AsyncConnectionPool(_libpq(DATABASE_URL), min_size=4, max_size=10, open=False,
                            configure=_configure)


def _money(minor: int | None) -> dict[str, str] | None:
    if minor is None:
        return None
    return {"amount": str(Decimal(minor).scaleb(-2).quantize(Decimal("0.01"))), "currency": "CNY"}


def _floor_edge(r: tuple[Any, ...]) -> dict[str, Any]:
    return {"cursor": f"{r[12].isoformat()}|{r[0]}", "node": {
        "id": str(r[0]), "caseNumber": r[1], "status": r[2], "requestedAmount": _money(r[3]),
        "approvedAmount": _money(r[4]), "reason": r[6], "channel": r[7], "method": r[8],
        "reviewDueAt": r[9].isoformat(), "completionDueAt": r[10].isoformat(),
        "escalationLevel": r[11], "createdAt": r[12].isoformat(),
        "transaction": {"id": str(r[14]), "merchantOrderNo": r[15], "amount": _money(r[16]),
                        "refundableAmount": _money(max(r[16] - r[17] - r[18], 0))},
        "lastEvent": {"type": r[19], "actor": r[20], "occurredAt": r[21].isoformat()}}}


async def _floor_page(request: Request) -> Response:
    token = request.headers.get("authorization", "").removeprefix("Bearer ")
    tenant = uuid.UUID(hex=token.split("_")[2][:32])
    async with _pool.connection() as conn, conn.transaction():
        await conn.execute(SCOPE_SQL, {"ids": str(tenant)})
        rows = await (await conn.execute(FLOOR_SQL, {"tenant": tenant})).fetchall()
    edges = [_floor_edge(r) for r in rows[:50]]
    info = {"hasNextPage": len(rows) > 50, "endCursor": edges[-1]["cursor"] if edges else None}
    return JSONResponse({"data": {"refundCases": {"edges": edges, "pageInfo": info}}})


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


def _server(module: str, port: int, *, factory: bool) -> subprocess.Popen[bytes]:
    env = {**os.environ, "QREFUND_DATABASE_URL": DATABASE_URL,
           "QREFUND_ENCRYPTION_KEY": ENCRYPTION_KEY, "QREFUND_ENVIRONMENT": "production",
           "QREFUND_LOG_LEVEL": "WARNING", "QREFUND_BENCH_REFUNDS_DATABASE_URL": DATABASE_URL}
    env.pop("QREFUND_REDIS_URL", None)
    cmd = [sys.executable, "-m", "uvicorn", module, "--host", "127.0.0.1", "--port", str(port),
           "--log-level", "warning", "--no-access-log", *(["--factory"] if factory else [])]
    return subprocess.Popen(cmd, env=env)


def _summary(name: str, latencies: list[float], errors: int, took: float) -> dict[str, Any]:
    ordered = sorted(latencies)
    return {"name": name, "requests": len(ordered), "errors": errors,
            "rps": len(ordered) / took if took else 0.0,
            "p50_ms": statistics.median(ordered) * 1000,
            "p99_ms": ordered[min(int(len(ordered) * 0.99), len(ordered) - 1)] * 1000}


async def _drive(name: str, url: str, payload: dict[str, Any], key: str, concurrency: int,
                 duration: float, warmup: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0

    async def worker(until: float, record: bool) -> None:
        nonlocal errors
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {key}"},
                                     timeout=30) as client:
            while time.perf_counter() < until:
                started = time.perf_counter()
                response = await client.post(url, json=payload)
                elapsed = time.perf_counter() - started
                body = response.json() if response.status_code == 200 else {}
                good = "errors" not in body and len(
                    (body.get("data") or {}).get("refundCases", {}).get("edges", [])) == 50
                if record:
                    latencies.append(elapsed)
                    errors += 0 if good else 1

    await asyncio.gather(*(worker(time.perf_counter() + warmup, False)
                           for _ in range(concurrency)))
    started = time.perf_counter()
    await asyncio.gather(*(worker(started + duration, True) for _ in range(concurrency)))
    return _summary(name, latencies, errors, time.perf_counter() - started)


MUTATION = """mutation($i: %sInput!) { %s(input: $i) { refundCase { id status }
  userErrors { code message } } }"""


async def _mutations(url: str, keys: dict[str, str], spare: list[str], merchant: str,
                     concurrency: int) -> list[dict[str, Any]]:
    """submitRefundRequest (+ startRefundReview) + approveRefund on fresh payments."""
    from qrefund.graphql_schema import ids

    timings: dict[str, list[float]] = {"submitRefundRequest": [], "approveRefund": []}
    errors = 0
    queue = list(spare)

    async def call(client: httpx.AsyncClient, key: str, name: str, variables: dict[str, Any]
                   ) -> dict[str, Any] | None:
        nonlocal errors
        field = name[0].lower() + name[1:]
        started = time.perf_counter()
        response = await client.post(url, json={"query": MUTATION % (name, field),
                                                "variables": {"i": variables}},
                                     headers={"Authorization": f"Bearer {key}"})
        elapsed = time.perf_counter() - started
        payload = (response.json().get("data") or {}).get(field) or {}
        if payload.get("userErrors") or not payload.get("refundCase"):
            errors += 1
            return None
        if field in timings:
            timings[field].append(elapsed)
        case: dict[str, Any] = payload["refundCase"]
        return case

    async def worker() -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            while queue:
                txn = ids.encode("Transaction", uuid.UUID(merchant), uuid.UUID(queue.pop()))
                case = await call(client, keys["0:INTEGRATION"], "SubmitRefundRequest", {
                    "transactionId": txn, "amount": "5.00", "reason": "QUALITY_ISSUE",
                    "channel": "API", "idempotencyKey": f"bench-{uuid.uuid4().hex}"})
                if case is None:
                    continue
                await call(client, keys["0:REFUND_AGENT"], "StartRefundReview", {"id": case["id"]})
                await call(client, keys["0:REFUND_AGENT"], "ApproveRefund", {
                    "id": case["id"], "idempotencyKey": f"bench-{uuid.uuid4().hex}"})

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    took = time.perf_counter() - started
    return [_summary(name, values, errors, took) for name, values in timings.items()]


async def _run(args: argparse.Namespace, data: dict[str, Any]) -> None:
    keys, api_port, floor_port = data["keys"], args.port, args.port + 1
    servers = [_server("qrefund.app:create_app", api_port, factory=True),
               _server("bench.refund_cases:floor_app", floor_port, factory=False)]
    try:
        await wait_ready(f"http://127.0.0.1:{api_port}/healthz")
        await wait_ready(f"http://127.0.0.1:{floor_port}/healthz")
        viewer = keys["0:VIEWER"]
        floor = await _drive("floor (Starlette + SQL)", f"http://127.0.0.1:{floor_port}/page",
                             {"first": 50}, viewer, args.concurrency, args.duration, args.warmup)
        api = await _drive("API (GraphQL refundCases)", f"http://127.0.0.1:{api_port}/graphql",
                           {"query": PAGE_QUERY, "variables": {"first": 50}}, viewer,
                           args.concurrency, args.duration, args.warmup)
        writes = await _mutations(f"http://127.0.0.1:{api_port}/graphql", keys, data["spare"],
                                  data["merchant"], args.write_concurrency)
    finally:
        for server in servers:
            server.send_signal(signal.SIGINT)
        for server in servers:
            server.wait(timeout=60)
    _report(floor, api, writes, args)


def _report(floor: dict[str, Any], api: dict[str, Any], writes: list[dict[str, Any]],
            args: argparse.Namespace) -> None:
    print(f"refundCases first page (50 cases + transaction + last event), {args.concurrency} "
          f"concurrent clients, {args.duration:.0f}s each after {args.warmup:.0f}s warm-up")
    print(f"{'':30} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'errors':>7}")
    for r in (floor, api):
        print(f"{r['name']:30} {r['rps']:9.0f} {r['p50_ms']:9.2f} {r['p99_ms']:9.2f} "
              f"{r['errors']:7d}")
    print(f"API / floor: {floor['rps'] / api['rps']:.2f}x fewer req/s, "
          f"p50 {api['p50_ms'] / floor['p50_ms']:.2f}x, p99 {api['p99_ms'] / floor['p99_ms']:.2f}x")
    print(f"mutations ({args.write_concurrency} concurrent clients, each on its own payment):")
    for r in writes:
        print(f"  {r['name']:28} n={r['requests']:5d} p50 {r['p50_ms']:7.2f} ms  "
              f"p99 {r['p99_ms']:7.2f} ms  errors {r['errors']}")
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "refund_cases.json"), "w") as f:
        json.dump({"args": vars(args), "page": [floor, api], "mutations": writes}, f, indent=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate")
    gen.add_argument("--cases", type=int, default=4000)
    gen.add_argument("--merchants", type=int, default=16)
    gen.add_argument("--mutations", type=int, default=2000,
                     help="spare payments for the submit + approve runs (merchant 0; "
                     "a quarter of it for each other merchant); the default covers "
                     "bench.compare's defaults (1910 and 108 needed)")
    gen.add_argument("--complaints", type=int, default=250,
                     help="complaint tickets per merchant (0: none)")
    run = sub.add_parser("run")
    run.add_argument("--duration", type=float, default=10.0)
    run.add_argument("--warmup", type=float, default=2.0)
    run.add_argument("--concurrency", type=int, default=8)
    run.add_argument("--write-concurrency", type=int, default=4)
    run.add_argument("--port", type=int, default=8831)
    args = parser.parse_args()
    asyncio.run(_generate(args) if args.command == "generate" else _run(args, _load_keys()))


if __name__ == "__main__":
    main()
