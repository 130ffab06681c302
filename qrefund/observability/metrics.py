"""The platform's Prometheus metrics, recorded wherever the work happens.

Multiprocess-safe: when ``PROMETHEUS_MULTIPROC_DIR`` is set (it must be set
before the process starts, as prometheus-client reads it when a metric is
created), every process — uvicorn workers, RQ work horses — writes its values
to files in that directory and a scrape adds them up
(:func:`multiprocess_registry`). The gauge of open subscriptions sums the live
processes only.

Labels are bounded: operation names come from clients, so only the first
:data:`MAX_OPERATIONS` distinct well-formed names of a process get a label of
their own; later ones count as ``_other``.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
JOB_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0)
SQL_COUNT_BUCKETS = (0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89)
MAX_OPERATIONS = 200
_OPERATION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")

REQUESTS = Counter("qrefund_requests", "HTTP requests by operation and outcome",
                   ["operation", "outcome"])
REQUEST_SECONDS = Histogram("qrefund_request_duration_seconds", "Request latency",
                            ["operation"], buckets=LATENCY_BUCKETS)
REQUEST_SQL_STATEMENTS = Histogram("qrefund_request_sql_statements",
                                   "SQL statements a request ran", ["operation"],
                                   buckets=SQL_COUNT_BUCKETS)
REQUEST_SQL_SECONDS = Histogram("qrefund_request_sql_duration_seconds",
                                "Time a request spent in SQL statements", ["operation"],
                                buckets=LATENCY_BUCKETS)
JOBS = Counter("qrefund_jobs", "Jobs run, by queue, function and outcome",
               ["queue", "function", "outcome"])
JOB_SECONDS = Histogram("qrefund_job_duration_seconds", "Job run time",
                        ["queue", "function"], buckets=JOB_BUCKETS)
PAYOUTS = Counter("qrefund_payouts", "Payout attempts' results by channel and outcome",
                  ["channel", "outcome"])
REFUND_BILLS = Counter("qrefund_refund_bills", "Provider refund bill downloads by channel and "
                       "outcome (compared, not_ready, rejected, unavailable)",
                       ["channel", "outcome"])
WEBHOOK_DELIVERIES = Counter("qrefund_webhook_deliveries", "Webhook delivery attempts",
                             ["outcome"])
WEBHOOK_SECONDS = Histogram("qrefund_webhook_delivery_duration_seconds",
                            "Webhook delivery latency", buckets=LATENCY_BUCKETS)
SUBSCRIPTIONS = Gauge("qrefund_subscriptions_open", "GraphQL subscriptions running",
                      multiprocess_mode="livesum")
RATE_LIMIT_REFUSALS = Counter("qrefund_rate_limit_refusals", "Requests refused by a rate limit",
                              ["budget"])

_known_operations: set[str] = set()
_lock = threading.Lock()


def operation_label(name: str | None) -> str:
    """A bounded label for a client-chosen operation name."""
    if not name:
        return "_anonymous"
    if not _OPERATION_NAME.fullmatch(name):
        return "_other"
    with _lock:
        if name in _known_operations:
            return name
        if len(_known_operations) < MAX_OPERATIONS:
            _known_operations.add(name)
            return name
    return "_other"


def outcome_of(status: int, graphql_errors: bool) -> str:
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "server_error"
    if status >= 400:
        return "client_error"
    return "graphql_error" if graphql_errors else "ok"


def observe_request(operation: str, outcome: str, seconds: float, sql_statements: int,
                    sql_seconds: float) -> None:
    REQUESTS.labels(operation, outcome).inc()
    REQUEST_SECONDS.labels(operation).observe(seconds)
    REQUEST_SQL_STATEMENTS.labels(operation).observe(sql_statements)
    REQUEST_SQL_SECONDS.labels(operation).observe(sql_seconds)


def observe_job(queue: str, function: str, succeeded: bool, seconds: float) -> None:
    JOBS.labels(queue, function, "succeeded" if succeeded else "failed").inc()
    JOB_SECONDS.labels(queue, function).observe(seconds)


def observe_payout(channel: str, outcome: str) -> None:
    PAYOUTS.labels(channel, outcome).inc()


def observe_refund_bill(channel: str, outcome: str) -> None:
    REFUND_BILLS.labels(channel, outcome).inc()


def observe_webhook(outcome: str, seconds: float) -> None:
    WEBHOOK_DELIVERIES.labels(outcome).inc()
    WEBHOOK_SECONDS.observe(seconds)


def rate_limit_refused(budget: str) -> None:
    RATE_LIMIT_REFUSALS.labels(budget).inc()


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def multiprocess_registry() -> CollectorRegistry:
    """A registry adding up every process's files (``PROMETHEUS_MULTIPROC_DIR``)."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def prepare_multiprocess_dir() -> None:
    """At a deployment process's start (``qrefund serve``, ``qrefund worker``), before
    any child: an empty directory, so a restarted container does not add up the dead
    processes' values of its previous life."""
    directory = multiprocess_dir()
    if not directory:
        return
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink(missing_ok=True)


def process_exited(pid: int) -> None:
    """Drop a dead process's live gauges (subscriptions) from the sums."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(pid)
