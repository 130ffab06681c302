"""Payout jobs: approval -> payout attempt -> channel call -> status polls.

* ``refund_case.approved`` -> :func:`create_payout` (first attempt; case PROCESSING)
* ``payout.created`` (first attempt or ``retryRefundPayout``) -> :func:`execute_payout`,
  retried by RQ with ``QREFUND_PAYOUT_RETRY_SECONDS`` backoff on transient errors
* a PROCESSING answer -> :func:`poll_payout` at the next ``QREFUND_PAYOUT_POLL_SECONDS``
  step (RQ's scheduler), again until the channel answers for good
* :func:`payout_sweep` (periodic, on the payouts queue) re-enqueues polls, resumes
  PENDING payouts whose job was lost, and creates the payout of every case left
  APPROVED for ``QREFUND_PAYOUT_STRANDED_AFTER_SECONDS`` with no live payout (its
  ``create_payout`` job was lost or gave up); deterministic job ids keep it from
  doubling live jobs, the case's row lock from doubling payouts.

Every job takes ids, reloads the payout and returns quietly when it has moved on, and
is enqueued with RQ ``Retry``: ``create_payout`` and polls with
``QREFUND_JOB_RETRY_SECONDS``, channel calls with ``QREFUND_PAYOUT_RETRY_SECONDS``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from qrefund.jobs import runtime
from qrefund.jobs.enqueue import enqueue_unless_live, retry_policy
from qrefund.jobs.registry import QUEUE_PAYOUTS, EventMessage, JobSpec, every
from qrefund.jobs.registry import on_event as on
from qrefund.jobs.relay import FAILURE_TTL, JOB_TIMEOUT, RESULT_TTL
from qrefund.jobs.worker import bind, current, job_context
from qrefund.platform.clock import utcnow
from qrefund.platform.errors import DomainError
from qrefund.platform.payouts import channels
from qrefund.platform.payouts import service as payouts
from qrefund.platform.payouts.channels import ChannelUnavailable
from qrefund.platform.payouts.models import Payout, PayoutStatus
from qrefund.platform.payouts.sandbox import SandboxChannel

log = logging.getLogger(__name__)

SWEEP_BATCH = 1000
# Stranded approvals: pages per sweep run (the next run carries on), each its own read.
STRANDED_BATCH = 100
STRANDED_PAGES = 10

channels.register_adapter("sandbox", lambda: SandboxChannel(runtime.redis))


# -- handlers ----------------------------------------------------------------------------


@on("refund_case.approved")
def on_case_approved(event: EventMessage) -> Iterable[JobSpec]:
    case_id = str(event.aggregate_id)
    yield JobSpec(QUEUE_PAYOUTS, "qrefund.jobs.payouts.create_payout",
                  (str(event.tenant_id), case_id), meta={"case_id": case_id})


@on("payout.created")
def on_payout_created(event: EventMessage) -> Iterable[JobSpec]:
    yield JobSpec(QUEUE_PAYOUTS, "qrefund.jobs.payouts.execute_payout",
                  (str(event.tenant_id), str(event.aggregate_id)),
                  retry_intervals=tuple(runtime.settings().payout_retry_seconds),
                  meta={"case_id": str(event.payload.get("caseId", ""))})


# -- jobs --------------------------------------------------------------------------------


def _ids(tenant_id: str, payout_or_case_id: str) -> tuple[uuid.UUID, uuid.UUID]:
    return uuid.UUID(tenant_id), uuid.UUID(payout_or_case_id)


async def create_payout(tenant_id: str, case_id: str) -> str | None:
    """Job: the first payout attempt of an approved case (nothing if it moved on)."""
    tid, cid = _ids(tenant_id, case_id)
    bind(tenant_id=tid, case_id=cid)
    async with runtime.database().unit_of_work(runtime.job_scope(tid, "payouts")) as uow:
        payout = await payouts.create_for_case(uow, tid, cid)
    if payout is None:
        log.info("case %s needs no new payout", cid)
        return None
    log.info("payout %s (attempt %d, %s) created", payout.id, payout.attempt, payout.out_refund_no)
    return str(payout.id)


async def execute_payout(tenant_id: str, payout_id: str) -> str:
    """Job: send the attempt to its channel and record the answer.

    The channel call happens between two short units of work, with no
    transaction open. A crash after the call and before the second unit leaves
    the payout PENDING; the next run (RQ retry, the sweep, an operator's requeue)
    sends the same ``out_refund_no`` and the channel answers with the refund it
    already made, so it is recorded once and paid once.
    """
    tid, pid = _ids(tenant_id, payout_id)
    db, settings = runtime.database(), runtime.settings()
    async with db.unit_of_work(runtime.job_scope(tid, "payouts")) as uow:
        started = await payouts.begin_call(uow, tid, pid)
        channel = await payouts.adapter_for(uow, started[0], settings) if started else None
    if started is None or channel is None:
        log.info("payout %s is no longer pending", pid)
        return "skipped"
    payout, request = started
    bind(case_id=payout.case_id)
    result = await channel.refund(request)  # transient -> RQ retry
    async with db.unit_of_work(runtime.job_scope(tid, "payouts")) as uow:
        payout = await payouts.apply_result(uow, tid, pid, result, polled=False,
                                            poll_schedule=settings.payout_poll_seconds)
    log.info("payout %s: channel answered %s, payout is %s", pid, result.status, payout.status)
    if payout.state == PayoutStatus.PROCESSING:
        schedule_poll(payout)
    return payout.status


async def poll_payout(tenant_id: str, payout_id: str) -> str:
    """Job: ask the channel how a PROCESSING payout is doing; schedule the next ask."""
    tid, pid = _ids(tenant_id, payout_id)
    db, settings = runtime.database(), runtime.settings()
    async with db.unit_of_work(runtime.job_scope(tid, "payouts")) as uow:  # objects outlive it
        found = await payouts.begin_poll(uow, tid, pid)
        channel = await payouts.adapter_for(uow, found, settings) if found else None
    if found is None or channel is None:
        return "skipped"
    payout = found
    bind(case_id=payout.case_id)
    try:
        result = await channel.query(payout.out_refund_no)
    except ChannelUnavailable as exc:
        log.warning("payout %s: status query failed (%s); asking again later", pid, exc)
        async with db.unit_of_work(runtime.job_scope(tid, "payouts")) as uow:
            payout = await payouts.postpone_poll(uow, tid, pid,
                                                 poll_schedule=settings.payout_poll_seconds)
    else:
        async with db.unit_of_work(runtime.job_scope(tid, "payouts")) as uow:
            payout = await payouts.apply_result(uow, tid, pid, result, polled=True,
                                                poll_schedule=settings.payout_poll_seconds)
        log.info("payout %s: status %s after %d polls", pid, payout.status, payout.polls)
    if payout.state == PayoutStatus.PROCESSING:
        schedule_poll(payout)
    return payout.status


# -- scheduling ---------------------------------------------------------------------------


def _options(payout: Payout, retry_intervals: Iterable[int] | None = None) -> dict[str, Any]:
    intervals = None if retry_intervals is None else tuple(retry_intervals)
    return {"meta": {"tenant_id": str(payout.tenant_id), "case_id": str(payout.case_id)},
            "retry": retry_policy(intervals), "result_ttl": RESULT_TTL,
            "failure_ttl": FAILURE_TTL, "job_timeout": JOB_TIMEOUT}


def schedule_poll(payout: Payout) -> bool:
    """Enqueue the next status query at ``next_check_at`` (once per poll number)."""
    due = payout.next_check_at
    return enqueue_unless_live(
        runtime.queue(QUEUE_PAYOUTS), "qrefund.jobs.payouts.poll_payout", str(payout.tenant_id),
        str(payout.id), job_id=f"payout-poll-{payout.id.hex}-{payout.polls}",
        at=due if due is not None and due > utcnow() else None, **_options(payout))


def resume_payout(payout: Payout) -> bool:
    """Run a PENDING payout again (same key): its job was lost or gave up."""
    return enqueue_unless_live(
        runtime.queue(QUEUE_PAYOUTS), "qrefund.jobs.payouts.execute_payout",
        str(payout.tenant_id), str(payout.id),
        job_id=f"payout-resume-{payout.id.hex}-{payout.channel_calls}",
        **_options(payout, runtime.settings().payout_retry_seconds))


async def rescue_stranded(now: datetime) -> int:
    """Create the payout of every case APPROVED for longer than the grace period without
    a live payout; the number created.

    The same service call as :func:`create_payout`, under the case's row lock: a
    sweep racing another sweep, or the case's own (late) job, creates one payout.
    """
    db = runtime.database()
    approved_before = now - timedelta(seconds=runtime.settings().payout_stranded_after_seconds)
    rescued, after = 0, None
    for _ in range(STRANDED_PAGES):
        async with db.unit_of_work(runtime.system_scope("payout-sweep"), readonly=True) as uow:
            page = await payouts.stranded_approvals(uow, approved_before, STRANDED_BATCH,
                                                    after=after)
        for stranded in page:
            rescued += await _rescue(stranded, now)
        if len(page) < STRANDED_BATCH:
            break
        after = page[-1].key
    return rescued


async def _rescue(stranded: payouts.StrandedCase, now: datetime) -> bool:
    tid, cid = stranded.tenant_id, stranded.case_id
    with job_context(**{**current(), "tenant_id": tid, "case_id": cid}):
        try:
            async with runtime.database().unit_of_work(
                    runtime.job_scope(tid, "payout-sweep")) as uow:
                payout = await payouts.create_for_case(uow, tid, cid)
        except DomainError as exc:  # this case only; the others still get their payout
            log.error("case %s (tenant %s) is stranded in APPROVED and its payout cannot be "
                      "created: %s", cid, tid, exc.code)
            return False
        if payout is None:  # its own job (or another sweep) got there first
            return False
        waited = int((now - stranded.approved_at).total_seconds())
        log.warning("case %s (tenant %s) was APPROVED %d s without a payout: payout %s "
                    "created by the sweep", cid, tid, waited, payout.id)
        return True


@every(30, queue=QUEUE_PAYOUTS, name="payout-sweep")
async def payout_sweep() -> int:
    """Job: enqueue due status polls, resume stalled PENDING payouts and create the payouts
    of stranded approvals (all tenants); the number of jobs enqueued and payouts created."""
    db, now = runtime.database(), utcnow()
    # Not readonly: a read-only unit rolls back, which would expire the payouts read.
    async with db.unit_of_work(runtime.system_scope("payout-sweep")) as uow:
        due = await payouts.needing_attention(uow, now, SWEEP_BATCH)
    enqueued = 0
    for payout in due:
        if payout.state == PayoutStatus.PROCESSING:
            enqueued += schedule_poll(payout)
        elif payout.state == PayoutStatus.PENDING:
            enqueued += resume_payout(payout)
    if enqueued:
        log.info("payout sweep: %d jobs enqueued for %d due payouts", enqueued, len(due))
    return enqueued + await rescue_stranded(now)
