"""Enqueueing helpers: the retry policy for transient failures, and enqueue-unless-live.

* :func:`retry_policy`: every job that touches the database or Redis is enqueued
  with an RQ ``Retry`` (``QREFUND_JOB_RETRY_SECONDS`` unless the job names its own
  waits), so an outage delays it rather than dropping it. RQ retries on any
  exception; jobs take ids, reload state and return quietly when it moved on, so
  a retry after a bug costs only the attempt.
* :func:`enqueue_unless_live`: sweeps enqueue with deterministic job ids so that a
  job that is still queued, scheduled or running is never doubled. A job id alone
  (RQ's ``unique``) is not enough: a job that *failed* for good, or finished, keeps
  its id for days and would block every later sweep from trying again. Such a dead
  job is replaced — claimed with a Redis ``WATCH``, so when two sweeps race only
  one of them replaces it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from redis.exceptions import WatchError
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError, InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus

from qrefund.jobs import runtime

log = logging.getLogger(__name__)

# A job in one of these states will not run again by itself.
DEAD = frozenset({JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED})
_TRIES = 3


def retry_policy(intervals: Sequence[int] | None = None) -> Retry | None:
    """RQ's Retry with these waits (None: ``QREFUND_JOB_RETRY_SECONDS``; empty: no retry)."""
    waits = list(runtime.settings().job_retry_seconds if intervals is None else intervals)
    return Retry(max=len(waits), interval=waits) if waits else None


def enqueue_unless_live(queue: Queue, func: str, *args: Any, job_id: str,
                        at: datetime | None = None, **options: Any) -> bool:
    """Enqueue ``func(*args)`` as ``job_id`` (at ``at``, if given) unless that job is live.

    True when this call enqueued it. A dead job with the id (finished, failed,
    stopped) is replaced; a queued, scheduled, deferred or running one is left alone.
    ``options`` are RQ's enqueue options (``meta``, ``retry``, ``job_timeout``...).
    """
    for _ in range(_TRIES):
        try:
            if at is None:
                queue.enqueue(func, *args, job_id=job_id, unique=True, **options)
            else:
                queue.enqueue_at(at, func, *args, job_id=job_id, unique=True, **options)
        except DuplicateJobError:
            if not _discard_if_dead(queue, job_id):
                return False
            continue
        runtime.enqueued()
        return True
    return False


def _discard_if_dead(queue: Queue, job_id: str) -> bool:
    """Delete the job if it is dead; False if it is live or another caller got there first."""
    conn = queue.connection
    with conn.pipeline() as pipe:
        try:
            pipe.watch(Job.key_for(job_id))
            try:
                job = Job.fetch(job_id, connection=conn)
            except NoSuchJobError:  # expired meanwhile: the id is free again
                return True
            status = job.get_status(refresh=False)
            if status not in DEAD:
                return False
            pipe.multi()
            job.delete(pipeline=pipe)  # reads the job again: it may be gone by now
            pipe.execute()
        except (WatchError, InvalidJobOperation, NoSuchJobError):
            return False  # changed meanwhile (requeued, or replaced by another caller)
    log.info("job %s was %s; enqueueing it again", job_id, status)
    return True
