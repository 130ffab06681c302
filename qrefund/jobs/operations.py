"""Operators' view of the job system: failed jobs (RQ's failed registry) and requeueing.

Used by ``qrefund jobs failed`` and ``qrefund jobs requeue``. Requeueing is always
safe: jobs take ids, reload state and do nothing when it has moved on, and a
payout job re-sends the same ``out_refund_no``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from redis import Redis
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry

from qrefund.jobs.registry import QUEUES


@dataclass(frozen=True)
class FailedJob:
    id: str
    queue: str
    func: str
    tenant_id: str | None
    case_id: str | None
    failed_at: datetime | None
    error: str  # the last line of the traceback

    def line(self) -> str:
        when = self.failed_at.isoformat(timespec="seconds") if self.failed_at else "-"
        return (f"{self.id}  {self.queue}  {when}  {self.func}  tenant={self.tenant_id or '-'}  "
                f"case={self.case_id or '-'}  {self.error}")


def _error(job: Job) -> str:
    result = job.latest_result()
    text = (result.exc_string if result is not None else None) or ""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip()[:300] if lines else "(no traceback)"


def failed_jobs(conn: Redis, queues: Iterable[str] = QUEUES) -> list[FailedJob]:
    found: list[FailedJob] = []
    for name in queues:
        registry = FailedJobRegistry(name, connection=conn)
        for job_id in registry.get_job_ids():
            try:
                job = Job.fetch(job_id, connection=conn)
            except NoSuchJobError:  # expired between listing and fetching
                continue
            meta = job.meta or {}
            found.append(FailedJob(
                id=job.id, queue=name, func=job.func_name or "?", tenant_id=meta.get("tenant_id"),
                case_id=meta.get("case_id"), failed_at=job.ended_at, error=_error(job)))
    return found


def requeue(conn: Redis, job_ids: Iterable[str] | None = None,
            queues: Iterable[str] = QUEUES) -> list[str]:
    """Put failed jobs back on their queues (all of them when ``job_ids`` is None)."""
    wanted = set(job_ids) if job_ids is not None else None
    done: list[str] = []
    for name in queues:
        registry = FailedJobRegistry(name, connection=conn)
        for job_id in registry.get_job_ids():
            if wanted is not None and job_id not in wanted:
                continue
            try:
                registry.requeue(job_id)
            except (InvalidJobOperation, NoSuchJobError):
                continue
            done.append(job_id)
    return done
