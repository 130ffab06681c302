"""Webhook deliveries per second through one RQ worker, beside an empty job on that worker.

    python -m bench.webhooks [--events 500]

Recreates the PostgreSQL database ``qrefund_bench_webhooks`` (``QREFUND_BENCH_WEBHOOKS_URL``),
makes one merchant with one endpoint pointing at a local HTTP receiver (answers 200 at
once), writes N ``refund_case.approved`` events, then times one SimpleWorker (in this
process, like ``qrefund worker --simple``) running every fan-out and delivery job: per
event one fan-out job (reads the event, finds endpoints, inserts the delivery) and one
delivery job (claim, sign, POST, record). The same worker then runs N empty coroutine
jobs; the ratio says how much of a delivery is ours rather than RQ's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from redis import Redis
from rq import Queue, SimpleWorker
from sqlalchemy import create_engine, func, select
from sqlalchemy.pool import NullPool

from bench.common import recreate_database
from qrefund.jobs import runtime
from qrefund.jobs.registry import QUEUE_NOTIFICATIONS
from qrefund.jobs.webhooks import FAN_OUT
from qrefund.migrations.runner import migrate
from qrefund.platform.config import Settings
from qrefund.platform.db import Database, sync_url
from qrefund.platform.outbox.service import record_event
from qrefund.platform.webhooks import service
from qrefund.platform.webhooks.models import WebhookDelivery
from qrefund.tenants import service as tenants
from qrefund.tenants.auth import authenticate
from qrefund.tenants.bootstrap import bootstrap

DATABASE_URL = os.environ.get("QREFUND_BENCH_WEBHOOKS_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/qrefund_bench_webhooks")
REDIS_URL = os.environ.get("QREFUND_BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")


async def empty() -> None:
    """The baseline job: a coroutine that does nothing."""


class _Ok(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass



async def _setup(settings: Settings, url: str, events: int) -> tuple[Any, Any]:
    db = Database(settings, pooled=False)
    _operator, key = await bootstrap(db)
    async with db.unit_of_work(await authenticate(db, key)) as uow:
        merchant = await tenants.create_merchant(uow, name="Bench", slug="bench", agency_id=None,
                                                 timezone=None, default_currency=None)
    scope = runtime.job_scope(merchant.id)
    async with db.unit_of_work(scope) as uow:
        await service.create_endpoint(
            uow, service.CreateEndpoint(url=url, event_types=["refund_case.*"]), settings)
    refs = []
    for start in range(0, events, 500):
        async with db.unit_of_work(scope) as uow:
            for n in range(start, min(start + 500, events)):
                event = await record_event(
                    uow, tenant_id=merchant.id, type="refund_case.approved",
                    aggregate_type="refund_case", aggregate_id=merchant.id, payload={"n": n})
                refs.append((str(event.tenant_id), str(event.id)))
    await db.dispose()
    return merchant.id, refs


def _drain(redis: Redis) -> float:
    worker = SimpleWorker([Queue(QUEUE_NOTIFICATIONS, connection=redis)], connection=redis)
    started = time.perf_counter()
    worker.work(burst=True, logging_level="WARNING")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=500)
    events = parser.parse_args().events
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"

    recreate_database(DATABASE_URL)
    settings = Settings(database_url=DATABASE_URL, redis_url=REDIS_URL, environment="test",
                        encryption_key="bench:" + "W" * 43, webhook_allow_private_targets=True,
                        _env_file=None)  # type: ignore[call-arg]
    migrate(settings)
    redis = Redis.from_url(REDIS_URL)
    redis.flushdb()
    runtime.configure(settings=settings, db=Database(settings, pooled=False), redis=redis)
    _merchant, refs = asyncio.run(_setup(settings, url, events))

    queue = Queue(QUEUE_NOTIFICATIONS, connection=redis)
    for tenant_id, event_id in refs:
        queue.enqueue_call(FAN_OUT, args=(tenant_id, event_id), result_ttl=60)
    delivery_seconds = _drain(redis)
    engine = create_engine(sync_url(DATABASE_URL), poolclass=NullPool)
    with engine.connect() as conn:
        delivered = conn.execute(select(func.count()).select_from(WebhookDelivery).where(
            WebhookDelivery.status == "SUCCEEDED")).scalar_one()  # type: ignore[arg-type]
    engine.dispose()

    for _ in range(events):
        queue.enqueue_call(empty, result_ttl=60)
    empty_seconds = _drain(redis)
    server.shutdown()

    per_second = delivered / delivery_seconds
    empty_per_second = events / empty_seconds
    print(f"events: {events}, delivered: {delivered} (2 jobs each: fan-out + delivery)")
    print(f"webhook deliveries/s, one worker: {per_second:.1f}")
    print(f"empty coroutine jobs/s, same worker: {empty_per_second:.1f}")
    print(f"ratio (empty job rate / delivery rate): {empty_per_second / per_second:.1f}")


if __name__ == "__main__":
    main()
