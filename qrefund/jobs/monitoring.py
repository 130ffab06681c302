"""``/metrics``: the processes' recorded metrics plus figures read at scrape time.

Recorded metrics (requests, jobs, payouts, webhooks, subscriptions, rate-limit
refusals; :mod:`qrefund.observability.metrics`) come from this process, or from
every process sharing ``PROMETHEUS_MULTIPROC_DIR`` when it is set. At each
scrape this module also reads, once:

* Redis: every queue's depth, the age of its oldest queued job, and its started,
  scheduled and failed registries' sizes;
* the database (one system-scope read unit, two aggregate statements):
  deadline timers past their warning time or due, by subject, deadline kind,
  state and tenant tier, and the outbox's unrelayed events and the age of the
  oldest (:mod:`qrefund.platform.monitoring`).

A source that fails is reported as ``qrefund_scrape_errors{source=...}`` rather
than failing the scrape: the recorded metrics matter most when something is down.

Access: ``Authorization: Bearer <QREFUND_METRICS_TOKEN>``. Without a token set,
``/metrics`` answers 404 in production and is open in development and tests.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from redis import Redis
from rq import Queue
from rq.job import Job
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from qrefund.jobs import runtime
from qrefund.jobs.registry import QUEUES
from qrefund.observability import metrics
from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from qrefund.platform.monitoring import service as monitoring

log = logging.getLogger(__name__)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class QueueFigures:
    queued: int = 0
    oldest_age: float = 0.0
    started: int = 0
    scheduled: int = 0
    failed: int = 0


@dataclass
class ScrapeFigures:
    queues: dict[str, QueueFigures] = field(default_factory=dict)
    database: monitoring.Snapshot | None = None
    errors: dict[str, int] = field(default_factory=dict)


def queue_figures(conn: Redis, names: Iterable[str] = QUEUES) -> dict[str, QueueFigures]:
    now = datetime.now(UTC)
    found: dict[str, QueueFigures] = {}
    for name in names:
        queue = Queue(name, connection=conn)
        # cleanup=False: a scrape reads; the workers clean their registries up.
        figures = QueueFigures(
            queued=queue.count,
            started=queue.started_job_registry.get_job_count(cleanup=False),
            scheduled=queue.scheduled_job_registry.get_job_count(cleanup=False),
            failed=queue.failed_job_registry.get_job_count(cleanup=False))
        first = queue.get_job_ids(0, 1)
        job = Job.fetch(first[0], connection=conn) if first else None
        if job is not None and job.enqueued_at is not None:
            enqueued = job.enqueued_at.replace(tzinfo=job.enqueued_at.tzinfo or UTC)
            figures.oldest_age = max((now - enqueued).total_seconds(), 0.0)
        found[name] = figures
    return found


_clients: dict[str, Redis] = {}


def _redis(settings: Settings) -> Redis:
    """The settings' Redis (one client per URL), or the process's embedded one."""
    if not settings.redis_url:
        return runtime.redis()
    if settings.redis_url not in _clients:
        _clients[settings.redis_url] = runtime.redis_from_url(settings.redis_url)
    return _clients[settings.redis_url]


async def read_figures(db: Database, settings: Settings) -> ScrapeFigures:
    figures = ScrapeFigures()
    try:
        figures.queues = await asyncio.to_thread(queue_figures, _redis(settings))
    except Exception as exc:  # a scrape reports a source down, it does not fail
        log.warning("metrics: queues unreadable (%s)", type(exc).__name__)
        figures.errors["redis"] = 1
    try:
        async with db.unit_of_work(runtime.system_scope("metrics"), readonly=True) as uow:
            figures.database = await monitoring.snapshot(uow)
    except Exception as exc:
        log.warning("metrics: database unreadable (%s)", type(exc).__name__)
        figures.errors["database"] = 1
    return figures


class ScrapeCollector(Collector):
    """The figures of one scrape as metric families."""

    def __init__(self, figures: ScrapeFigures) -> None:
        self.figures = figures

    def collect(self) -> Iterator[Metric]:
        yield from self._queues()
        yield from self._database()
        errors = GaugeMetricFamily("qrefund_scrape_errors", "Sources this scrape could not read",
                                   labels=["source"])
        for source in ("redis", "database"):
            errors.add_metric([source], self.figures.errors.get(source, 0))
        yield errors

    def _queues(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily("qrefund_queue_depth", "Jobs waiting in a queue",
                                  labels=["queue"])
        age = GaugeMetricFamily("qrefund_queue_oldest_job_age_seconds",
                                "Age of the oldest job waiting in a queue", labels=["queue"])
        registry = GaugeMetricFamily("qrefund_queue_registry_jobs",
                                     "Jobs started, scheduled (retries) or failed",
                                     labels=["queue", "registry"])
        for name, q in self.figures.queues.items():
            depth.add_metric([name], q.queued)
            age.add_metric([name], q.oldest_age)
            for kind in ("started", "scheduled", "failed"):
                registry.add_metric([name, kind], getattr(q, kind))
        yield from (depth, age, registry)

    def _database(self) -> Iterator[Metric]:
        snap = self.figures.database
        if snap is None:
            return
        deadlines = GaugeMetricFamily(
            "qrefund_deadlines_at_risk",
            "Running deadlines past their warning point (near) or due (past)",
            labels=["subject", "kind", "state", "tier"])
        for (subject, kind, state, tier), count in sorted(snap.deadlines.items()):
            deadlines.add_metric([subject, kind, state, tier], count)
        yield deadlines
        yield GaugeMetricFamily("qrefund_outbox_lag_seconds",
                                "Age of the oldest event not yet relayed",
                                value=snap.outbox_lag_seconds)
        yield GaugeMetricFamily("qrefund_outbox_unrelayed_events", "Events not yet relayed",
                                value=snap.outbox_unrelayed)


def recorded_registry() -> CollectorRegistry:
    """Every process's recorded metrics (multiprocess mode) or this process's."""
    return metrics.multiprocess_registry() if metrics.multiprocess_dir() else REGISTRY


async def render(db: Database, settings: Settings) -> bytes:
    started = time.perf_counter()
    figures = await read_figures(db, settings)
    scrape = CollectorRegistry()
    scrape.register(ScrapeCollector(figures))
    body = generate_latest(recorded_registry()) + generate_latest(scrape)
    took = time.perf_counter() - started
    return body + (b"# HELP qrefund_scrape_duration_seconds Time this scrape took\n"
                   b"# TYPE qrefund_scrape_duration_seconds gauge\n"
                   + f"qrefund_scrape_duration_seconds {took:.6f}\n".encode())


def allowed(settings: Settings, authorization: str | None) -> bool | None:
    """True: serve; False: 401; None: 404 (no token configured in production)."""
    if not settings.metrics_token:
        return None if settings.environment == "production" else True
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), settings.metrics_token.encode())


def metrics_endpoint(db: Database, settings: Settings) -> Any:
    async def endpoint(request: Request) -> Response:
        verdict = allowed(settings, request.headers.get("authorization"))
        if verdict is None:
            return PlainTextResponse("not found", status_code=404)
        if not verdict:
            return PlainTextResponse("metrics token required", status_code=401,
                                     headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        return Response(await render(db, settings), media_type=CONTENT_TYPE)

    return endpoint


def serve_worker_metrics(port: int) -> None:
    """A worker's own metrics (its work horses' too, in multiprocess mode) on ``port``."""
    start_http_server(port, registry=recorded_registry())


async def redis_ready(settings: Settings) -> bool:
    """Readiness: the queues' Redis answers (the embedded one always does)."""
    if not settings.redis_url:
        return True
    try:
        return bool(await asyncio.to_thread(_redis(settings).ping))
    except Exception as exc:
        log.warning("readiness: Redis unreachable (%s)", type(exc).__name__)
        return False
