"""Anomaly checks: the latency they add to recordTransaction and submitRefundRequest.

    .venv/bin/python -m bench.risk [--history 1500] [--rounds 10] [--batch 20]

Re-creates the database named by QREFUND_BENCH_RISK_DATABASE_URL (default
``qrefund_bench_risk``), migrates it, and builds one merchant through the real services
with 28 days of history (payments at 4 terminals in 2 stores with payer accounts,
refund cases spread over the days, so the baselines have something to chew on). Then
it calls both mutations through the ASGI app in this process (httpx, no network),
alternating batches with the risk screens registered and unregistered
(``qrefund.platform.screening``), and prints p50/p99 of each and the difference.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from bench.common import recreate_database
from qrefund.app import create_app
from qrefund.migrations.runner import migrate
from qrefund.platform import risk, screening
from qrefund.platform.clock import utcnow
from qrefund.platform.config import Settings
from qrefund.platform.db import Database, sync_url
from qrefund.platform.refunds import intake
from qrefund.platform.roles import Role
from qrefund.platform.transactions import service as transactions
from qrefund.platform.transactions.models import PaymentChannel, TransactionStatus
from qrefund.platform.vocabulary import RefundReason, RequestChannel
from qrefund.tenants import service as tenants
from qrefund.tenants.auth import authenticate
from qrefund.tenants.bootstrap import bootstrap

DATABASE_URL = os.environ.get("QREFUND_BENCH_RISK_DATABASE_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/qrefund_bench_risk")
ENCRYPTION_KEY = "bench:" + "K" * 43
# 40 terminals in 20 stores: a mid-sized chain, each terminal a few refunds a day.
TERMINALS = [(f"T{i}", f"S{i // 2}") for i in range(40)]

RECORD = """mutation($i: RecordTransactionInput!) { recordTransaction(input: $i) {
  transaction { id } userErrors { code } } }"""
SUBMIT = """mutation($i: SubmitRefundRequestInput!) { submitRefundRequest(input: $i) {
  refundCase { id status } userErrors { code } } }"""



def _txn_input(n: int, *, paid_back: timedelta = timedelta(minutes=1)) -> dict[str, Any]:
    terminal, store = random.choice(TERMINALS)
    return {"merchantOrderNo": f"B-{n}-{uuid.uuid4().hex[:8]}", "channel": "WECHAT_PAY",
            "providerReference": uuid.uuid4().hex, "amount": f"{random.randint(5, 300)}.00",
            "currency": "CNY", "status": "SUCCEEDED",
            "paidAt": (utcnow() - paid_back).isoformat(), "terminalId": terminal,
            "storeId": store, "payerAccount": f"6222 {random.randint(0, 9999):04d} 0000 1111"}


async def _history(db: Database, key: str, payments: int) -> None:
    """Payments over 28 days; a fifth of them refunded, cases moved to their day."""
    scope = await authenticate(db, key)
    moves: list[tuple[uuid.UUID, timedelta]] = []
    for n in range(payments):
        back = timedelta(days=random.uniform(0, 28))
        data = _txn_input(n, paid_back=back)
        async with db.unit_of_work(scope) as uow:
            txn = await transactions.record(uow, transactions.RecordTransaction(
                merchant_id=None, merchant_order_no=data["merchantOrderNo"],
                channel=PaymentChannel.WECHAT_PAY, provider_reference=data["providerReference"],
                amount=Decimal(data["amount"]), currency="CNY",
                status=TransactionStatus.SUCCEEDED, paid_at=utcnow() - back,
                terminal_id=data["terminalId"], store_id=data["storeId"],
                payer_account=data["payerAccount"]))
            if n % 5 == 0:
                case = await intake.submit(uow, intake.SubmitRefund(
                    tenant_id=txn.tenant_id, transaction_id=txn.id, amount=Decimal("1.00"),
                    reason=RefundReason.QUALITY_ISSUE, channel=RequestChannel.API,
                    contact_phone=f"138{random.randint(0, 99999999):08d}"))
                moves.append((case.id, back))
    engine = create_engine(sync_url(DATABASE_URL), poolclass=NullPool)
    with engine.begin() as conn:  # the owner moves cases back to their payment's day
        for case_id, back in moves:
            conn.execute(text("UPDATE refund_cases SET created_at = created_at - :b "
                              "WHERE id = :i"), {"b": back, "i": case_id})
        conn.execute(text("ANALYZE"))
    engine.dispose()


async def _world(db: Database) -> str:
    _operator, operator_key = await bootstrap(db)
    scope = await authenticate(db, operator_key)
    async with db.unit_of_work(scope) as uow:
        merchant = await tenants.create_merchant(uow, name="Bench", slug="bench", agency_id=None,
                                                 timezone="Asia/Shanghai",
                                                 default_currency="CNY")
        _k, key = await tenants.create_api_key(uow, tenant_id=merchant.id, name="integration",
                                               role=Role.INTEGRATION, expires_at=None)
    return key


async def _call(client: httpx.AsyncClient, key: str, doc: str, variables: dict[str, Any]
                ) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    response = await client.post("/graphql", json={"query": doc, "variables": variables},
                                 headers={"Authorization": f"Bearer {key}"})
    elapsed = time.perf_counter() - started
    body = response.json()
    assert "errors" not in body, body
    return elapsed, body["data"]


def _screens(on: bool) -> None:
    if on:
        risk.install()
    else:
        screening.unregister_all()


async def _measure(client: httpx.AsyncClient, key: str, rounds: int, batch: int
                   ) -> dict[tuple[str, bool], list[float]]:
    times: dict[tuple[str, bool], list[float]] = {}
    n = 10**6
    for round_no in range(rounds):
        for on in ((True, False) if round_no % 2 == 0 else (False, True)):
            _screens(on)
            for _ in range(batch):
                n += 1
                took, data = await _call(client, key, RECORD, {"i": _txn_input(n)})
                times.setdefault(("recordTransaction", on), []).append(took)
                txn_id = data["recordTransaction"]["transaction"]["id"]
                took, data = await _call(client, key, SUBMIT, {"i": {
                    "transactionId": txn_id, "amount": "1.00", "reason": "QUALITY_ISSUE",
                    "channel": "API", "contactPhone": f"139{random.randint(0, 99999999):08d}"}})
                assert data["submitRefundRequest"]["refundCase"], data
                times.setdefault(("submitRefundRequest", on), []).append(took)
    _screens(True)
    return times


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def main(history: int, rounds: int, batch: int) -> None:
    random.seed(7)
    recreate_database(DATABASE_URL)
    settings = Settings(database_url=DATABASE_URL, encryption_key=ENCRYPTION_KEY,
                        environment="test", rate_limit_per_key="1000000/minute",
                        _env_file=None)  # type: ignore[call-arg]
    migrate(settings)
    db = Database(settings)
    app = create_app(settings, db)
    key = await _world(db)
    started = time.perf_counter()
    await _history(db, key, history)
    print(f"history: {history} payments, {history // 5} cases over 28 days "
          f"({time.perf_counter() - started:.0f} s)")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        await _measure(client, key, 2, 5)  # warm-up
        times = await _measure(client, key, rounds, batch)
    await db.dispose()
    print(f"{'mutation':<22}{'risk':>6}{'n':>6}{'p50 ms':>9}{'p99 ms':>9}{'mean ms':>9}")
    for name in ("recordTransaction", "submitRefundRequest"):
        for on in (False, True):
            v = times[(name, on)]
            print(f"{name:<22}{'on' if on else 'off':>6}{len(v):>6}{_p(v, .5):>9.1f}"
                  f"{_p(v, .99):>9.1f}{statistics.mean(v) * 1000:>9.1f}")
        off, on_ = times[(name, False)], times[(name, True)]
        print(f"{name:<22}{'added':>6}{'':>6}{_p(on_, .5) - _p(off, .5):>9.1f}"
              f"{_p(on_, .99) - _p(off, .99):>9.1f}"
              f"{(statistics.mean(on_) - statistics.mean(off)) * 1000:>9.1f}"
              f"   (x{statistics.mean(on_) / statistics.mean(off):.2f} mean)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--batch", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.history, args.rounds, args.batch))

