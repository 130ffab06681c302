"""RQ workers for qrefund: job logs that name the tenant and the case.

Every job enqueued by the relay carries ``tenant_id`` (and ``case_id`` for refund
case events) in its meta; the worker classes here put them, with the job id, in
context variables for the job's duration (structlog's, which every log line of the
process merges in, see :mod:`qrefund.observability.logs`; :class:`JobContextFilter`
adds them to stdlib records for other handlers), so ``grep tenant_id=<id>`` finds a
tenant's job logs. Job
functions that learn the case later (a payout job knows only the payout id at
first) call :func:`bind` to add it.

* :class:`QrefundWorker` forks a work horse per job (RQ's default; isolation, hard
  timeouts) — ``qrefund worker``. It builds the job database before the first fork
  so that horses do not each build (and initialise) an engine of their own.
* :class:`QrefundSimpleWorker` runs jobs in the worker process — ``qrefund worker
  --simple``: faster (one event loop and a pool of database connections for all
  its jobs), no hard isolation between jobs.
* :class:`ThreadWorker` runs in a non-main thread (the embedded runtime, tests):
  no signal handlers, timer-based timeouts, no pub/sub command channel.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import structlog
from rq import SimpleWorker, Worker
from rq.executions import Execution
from rq.job import Job
from rq.queue import Queue
from rq.timeouts import TimerDeathPenalty

from qrefund.jobs.registry import QUEUES
from qrefund.jobs.runtime import QrefundJob, prepare_for_fork
from qrefund.observability import context as observed
from qrefund.observability import metrics, tracing

# The relay first (short, and every other job waits on it), then payouts, then
# notifications; maintenance last, so a pile of sweeps never holds a payout back.
WORKER_QUEUES = QUEUES

_FIELDS = ("tenant_id", "case_id", "job_id")
_context: ContextVar[dict[str, str]] = ContextVar("qrefund_job_context", default={})  # noqa: B039


def current() -> dict[str, str]:
    return dict(_context.get())


def bind(**values: Any) -> None:
    """Add ids (``tenant_id=``, ``case_id=``) to the running job's log context."""
    merged = {**_context.get(), **{k: str(v) for k, v in values.items() if v is not None}}
    _context.set(merged)
    observed.bind(**values)


@contextmanager
def job_context(**values: Any) -> Iterator[None]:
    """The job's ids, in the stdlib filter's context and structlog's alike."""
    clean = {k: str(v) for k, v in values.items() if v is not None}
    token = _context.set(clean)
    try:
        with structlog.contextvars.bound_contextvars(**clean):
            yield
    finally:
        _context.reset(token)


class JobContextFilter(logging.Filter):
    """Adds ``tenant_id``, ``case_id`` and ``job_id`` (or ``-``) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        values = _context.get()
        for name in _FIELDS:
            if not hasattr(record, name):
                setattr(record, name, values.get(name, "-"))
        return True


class _ContextMixin:
    """Each job runs with its ids in the log context (and the id of the request that
    enqueued it as ``enqueued_by``), in a span linked to that request's trace, and
    is counted and timed per queue and function."""

    flush_spans = False  # a forked horse exits without running exporter threads

    def perform_job(self, job: Job, queue: Queue, execution: Execution) -> bool:
        meta = job.meta or {}
        function = job.func_name or "unknown"
        started = time.perf_counter()
        succeeded = False
        with job_context(tenant_id=meta.get("tenant_id"), case_id=meta.get("case_id"),
                         ticket_id=meta.get("ticket_id"), job_id=job.id,
                         enqueued_by=meta.get("request_id")), \
                tracing.job_span(function, meta.get(tracing.TRACE_META_KEY),
                                 queue=queue.name, job_id=job.id):
            try:
                succeeded = super().perform_job(job, queue, execution)  # type: ignore[misc]
            finally:
                metrics.observe_job(queue.name, function, succeeded,
                                    time.perf_counter() - started)
        if self.flush_spans:
            tracing.flush()
        return succeeded


class QrefundWorker(_ContextMixin, Worker):
    """Forks a work horse per job; the horses inherit a ready database engine."""

    flush_spans = True

    def work(self, *args: Any, **kwargs: Any) -> bool:
        prepare_for_fork()
        return super().work(*args, **kwargs)


class QrefundSimpleWorker(_ContextMixin, SimpleWorker):
    # Coroutine jobs share the worker's event loop and its pooled connections.
    job_class = QrefundJob


class ThreadWorker(QrefundSimpleWorker):
    """A SimpleWorker that can run outside the main thread (signals belong to it)."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        pass

    def subscribe(self) -> None:  # the stop-job command channel needs a thread per run
        pass

    def unsubscribe(self) -> None:
        pass
