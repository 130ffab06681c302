"""The consumer page: first-view bytes and server time at 16 clients.

    .venv/bin/python -m bench.portal [--duration 10] [--concurrency 16]

Re-creates the ``qrefund_bench_portal`` database (next to ``QREFUND_BENCH_DATABASE_URL``),
migrates it, records one merchant with a published policy and a payment through the
services, then serves ``qrefund.app:create_app`` with uvicorn on 127.0.0.1 (one
process, production settings, rate limits off: the clients all share one address)
and drives, one after the other, with ``--concurrency`` httpx clients for
``--duration`` s after ``--warmup`` s:

* ``GET /healthz``: the ceiling of this harness (client and HTTP server, no work);
* ``GET /r/<token>``: the receipt page as a consumer's phone first asks for it;
* ``GET /my``: the contact form (no database).

First-view bytes are what a first visit transfers: the page and its stylesheet (no
script, no font, no image), as served and gzip-compressed (a reverse proxy's
``gzip on``). Figures go to stdout and ``bench/results/portal.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import re
import subprocess
import sys
from dataclasses import asdict
from datetime import timedelta
from decimal import Decimal

import httpx
from sqlalchemy.engine import make_url

from bench.common import DATABASE_URL, ENCRYPTION_KEY, RESULTS, recreate_database, wait_ready
from bench.run import Result, _drive, _free_port
from qrefund.platform.clock import utcnow
from qrefund.platform.config import Settings
from qrefund.platform.crypto import KeyRing
from qrefund.platform.db import Database
from qrefund.platform.transactions import service as transactions
from qrefund.platform.transactions.models import PaymentChannel, TransactionStatus
from qrefund.platform.transactions.receipt import make_token
from qrefund.tenants import service as tenants
from qrefund.tenants.auth import authenticate
from qrefund.tenants.bootstrap import bootstrap

PORTAL_DB = make_url(DATABASE_URL).set(database="qrefund_bench_portal").render_as_string(
    hide_password=False)



async def _seed() -> str:
    """A merchant and one payment; its receipt token."""
    from qrefund.migrations.runner import migrate

    settings = Settings(database_url=PORTAL_DB, encryption_key=ENCRYPTION_KEY,
                        _env_file=None)  # type: ignore[call-arg]
    migrate(settings)
    db = Database(settings)
    _operator, key = await bootstrap(db)
    async with db.unit_of_work(await authenticate(db, key)) as uow:
        merchant = await tenants.create_merchant(
            uow, name="上海静安咖啡店", slug="bench-cafe", agency_id=None,
            timezone="Asia/Shanghai", default_currency="CNY")
        txn = await transactions.record(uow, transactions.RecordTransaction(
            merchant_id=merchant.id, merchant_order_no="POS-20261130-0001",
            channel=PaymentChannel.WECHAT_PAY, provider_reference="wx-bench-1",
            amount=Decimal("128.00"), currency="CNY", status=TransactionStatus.SUCCEEDED,
            paid_at=utcnow() - timedelta(hours=2)))
        token = make_token(KeyRing.parse(ENCRYPTION_KEY), txn.tenant_id, txn.id,
                           txn.receipt_token_version)
    await db.dispose()
    return token


def _serve(port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "QREFUND_DATABASE_URL": PORTAL_DB,
           "QREFUND_ENCRYPTION_KEY": ENCRYPTION_KEY, "QREFUND_ENVIRONMENT": "production",
           "QREFUND_LOG_LEVEL": "WARNING", "QREFUND_RATE_LIMIT_ENABLED": "false",
           "QREFUND_PUBLIC_BASE_URL": "https://refund.example.com"}
    # Production asks for Redis (queues, pub/sub); the pages themselves do not use it
    # with the rate limits off.
    env["QREFUND_REDIS_URL"] = os.environ.get("QREFUND_BENCH_REDIS_URL",
                                              "redis://127.0.0.1:6379/10")
    return subprocess.Popen([sys.executable, "-m", "uvicorn", "qrefund.app:create_app",
                             "--factory", "--host", "127.0.0.1", "--port", str(port),
                             "--log-level", "warning", "--no-access-log"], env=env)


async def first_view(base: str, path: str) -> dict[str, int]:
    """Bytes of a first visit: the HTML and every stylesheet/script/image it links."""
    async with httpx.AsyncClient(base_url=base,
                                 headers={"accept-language": "zh-CN,zh;q=0.9"}) as client:
        page = await client.get(path)
        assert page.status_code == 200, page.status_code
        bodies = [page.content]
        for asset in re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text):
            bodies.append((await client.get(asset)).content)
    return {"files": len(bodies), "bytes": sum(len(b) for b in bodies),
            "gzip_bytes": sum(len(gzip.compress(b, 6)) for b in bodies)}


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    recreate_database(PORTAL_DB)
    token = await _seed()
    port = _free_port()
    server = _serve(port)
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(f"{base}/healthz")
        views = {"/r/<token>": await first_view(base, f"/r/{token}"),
                 "/my": await first_view(base, "/my")}
        runs: list[Result] = []
        for name, path in (("ceiling (GET /healthz)", "/healthz"),
                           ("GET /r/<token>", f"/r/{token}"), ("GET /my", "/my")):
            runs.append(await _drive(name, "GET", base + path, None, ["-"],
                                     args.concurrency, args.duration, args.warmup))
    finally:
        server.terminate()
        server.wait(timeout=10)
    return {"concurrency": args.concurrency, "duration_s": args.duration,
            "first_view": views, "runs": [asdict(r) for r in runs]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    figures = asyncio.run(main_async(args))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "portal.json").write_text(json.dumps(figures, indent=2, ensure_ascii=False))
    for path, view in figures["first_view"].items():  # type: ignore[attr-defined]
        print(f"first view {path}: {view['files']} files, {view['bytes']} B "
              f"({view['gzip_bytes']} B gzip)")
    print(f"{'':26}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for r in figures["runs"]:  # type: ignore[attr-defined]
        print(f"{r['name']:26}{r['rps']:9.0f}{r['p50_ms']:9.1f}{r['p99_ms']:9.1f}"
              f"{r['errors']:8d}")


if __name__ == "__main__":
    main()
