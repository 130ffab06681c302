"""``qrefund scheduler``: enqueue the periodic jobs, once per interval, however many run.

Built on RQ's own cron scheduler (:class:`rq.cron.CronScheduler`). RQ lets two
cron schedulers enqueue the same job twice; here every due run first claims its
time slot in Redis (``SET qrefund:cron:<name>:<slot> NX``, slot = now // interval),
so a second scheduler (a standby, or one started by mistake) skips the runs the
first already enqueued and takes over if the first dies.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from datetime import datetime
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


class ClaimingCronScheduler(CronScheduler):
    """A CronScheduler whose runs are claimed per time slot, so two never double-enqueue."""

    def claim(self, job: CronJob, at: datetime) -> bool:
        interval = job.interval or 60
        slot = int(at.timestamp() // interval)
        key = f"{CLAIM_PREFIX}{job.name}:{slot}"
        return bool(self.connection.set(key, self.name, nx=True, ex=max(2 * interval, 60)))

    def enqueue_jobs(self) -> list[CronJob]:
        enqueue_time = now()
        enqueued: list[CronJob] = []
        for job in self._cron_jobs:
            if not job.should_run():
                continue
            if self.claim(job, enqueue_time):
                job.enqueue(self.connection)
                enqueued.append(job)
            else:
                self.log.debug("%s: run already enqueued by another scheduler", job.name)
            job.set_enqueue_time(enqueue_time)
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
