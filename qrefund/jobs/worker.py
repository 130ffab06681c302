"""RQ workers for qrefund: job logs that name the tenant and the case.

Every job enqueued by the relay carries ``tenant_id`` (and ``case_id`` for refund
case events) in its meta; the worker classes here put them, with the job id, in
context variables for the job's duration, and :class:`JobContextFilter` adds them
to every log record, so ``grep tenant=<id>`` finds a tenant's job logs. Job
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
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from rq import SimpleWorker, Worker
from rq.executions import Execution
from rq.job import Job
from rq.queue import Queue
from rq.timeouts import TimerDeathPenalty

from qrefund.jobs.registry import QUEUES
from qrefund.jobs.runtime import QrefundJob, prepare_for_fork

# The relay first (short, and every other job waits on it), then payouts, then
# notifications; maintenance last, so a pile of sweeps never holds a payout back.
WORKER_QUEUES = QUEUES

LOG_FORMAT = ("%(asctime)s %(levelname)s %(name)s [tenant=%(tenant_id)s case=%(case_id)s "
              "job=%(job_id)s] %(message)s")

_FIELDS = ("tenant_id", "case_id", "job_id")
_context: ContextVar[dict[str, str]] = ContextVar("qrefund_job_context", default={})  # noqa: B039


def current() -> dict[str, str]:
    return dict(_context.get())


def bind(**values: Any) -> None:
    """Add ids (``tenant_id=``, ``case_id=``) to the running job's log context."""
    merged = {**_context.get(), **{k: str(v) for k, v in values.items() if v is not None}}
    _context.set(merged)


@contextmanager
def job_context(**values: Any) -> Iterator[None]:
    token = _context.set({k: str(v) for k, v in values.items() if v is not None})
    try:
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


def configure_logging(level: str = "INFO") -> None:
    """Root logging in the job format (worker and scheduler processes)."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(JobContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


class _ContextMixin:
    def perform_job(self, job: Job, queue: Queue, execution: Execution) -> bool:
        meta = job.meta or {}
        with job_context(tenant_id=meta.get("tenant_id"), case_id=meta.get("case_id"),
                         job_id=job.id):
            return super().perform_job(job, queue, execution)  # type: ignore[misc, no-any-return]


class QrefundWorker(_ContextMixin, Worker):
    """Forks a work horse per job; the horses inherit a ready database engine."""

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
