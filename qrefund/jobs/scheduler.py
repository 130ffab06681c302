"""``qrefund scheduler``: enqueue the periodic jobs, once per interval, however many run.

Built on RQ's own cron scheduler (:class:`rq.cron.CronScheduler`). RQ lets two
cron schedulers enqueue the same job twice; here runs are aligned to a shared
grid (multiples of the interval since the epoch) and every run first claims its
slot in Redis (``SET qrefund:cron:<name>:<slot> NX``, slot = now // interval), so
a second scheduler (a standby, or one started by mistake) skips the runs the
first already enqueued, and keeps the schedule going if the first dies.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from rq.cron import CronJob, CronScheduler
from rq.utils import now

from qrefund.jobs import runtime
from qrefund.jobs.registry import PERIODIC, PeriodicJob, load_handlers
from qrefund.platform.config import Settings

log = logging.getLogger(__name__)

CLAIM_PREFIX = "qrefund:cron:"
# Modules whose periodic jobs the scheduler always loads (handler modules add theirs).
PERIODIC_MODULES = ("qrefund.jobs.relay",)


def _resolve(dotted: str) -> Callable[..., Any]:
    module, _, name = dotted.rpartition(".")
    func: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return func


def interval_of(job: PeriodicJob, settings: Settings) -> int:
    if isinstance(job.interval, str):
        return int(getattr(settings, job.interval))
    return job.interval


def slot_of(at: datetime, interval: int) -> int:
    return int(at.timestamp() // interval)


def next_slot_start(at: datetime, interval: int) -> datetime:
    return datetime.fromtimestamp((slot_of(at, interval) + 1) * interval, UTC)


class ClaimingCronScheduler(CronScheduler):
    """A CronScheduler whose interval runs sit on a shared grid and are claimed per slot.

    Runs are aligned to multiples of the interval since the epoch, so every
    scheduler aims at the same instants; each run first claims its slot in Redis
    and only the scheduler that wins it enqueues.
    """

    def claim(self, job: CronJob, at: datetime) -> bool:
        interval = job.interval or 60
        key = f"{CLAIM_PREFIX}{job.name}:{slot_of(at, interval)}"
        return bool(self.connection.set(key, self.name, nx=True, ex=max(2 * interval, 60)))

    def enqueue_jobs(self, at: datetime | None = None) -> list[CronJob]:
        at = at or now()
        enqueued: list[CronJob] = []
        for job in self._cron_jobs:
            due = job.latest_enqueue_time is None or (
                job.next_enqueue_time is not None and at >= job.next_enqueue_time)
            if not due:
                continue
            if self.claim(job, at):
                job.enqueue(self.connection)
                enqueued.append(job)
            else:
                self.log.debug("%s: this run was enqueued by another scheduler", job.name)
            job.latest_enqueue_time = at
            job.next_enqueue_time = next_slot_start(at, job.interval or 60)
        return enqueued


def build_scheduler(connection: Redis | None = None, settings: Settings | None = None,
                    ) -> ClaimingCronScheduler:
    """A scheduler with every registered periodic job (relay, deadline sweep, polls...)."""
    settings = settings or runtime.settings()
    for module in PERIODIC_MODULES:
        importlib.import_module(module)
    load_handlers()
    scheduler = ClaimingCronScheduler(connection=connection or runtime.redis(),
                                      logging_level=settings.log_level)
    for job in PERIODIC:
        scheduler.register(_resolve(job.func), job.queue, interval=interval_of(job, settings),
                           job_timeout=job.timeout, name=job.name, meta={"periodic": job.name},
                           result_ttl=600, failure_ttl=30 * 24 * 3600)
    return scheduler
