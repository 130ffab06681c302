"""Deadline warnings, breaches and escalation.

Every running deadline of a subject (a refund case under review or being paid
out; any :class:`~qrefund.platform.deadlines.subject.Subject` listed in
:data:`~qrefund.platform.deadlines.subjects.SUBJECTS`) has one named
:class:`DeadlineTimer`; a subject may run several at once. A timer's
``next_check_at`` is the next instant something may be due: the warning
(``warn_at`` = start + fraction x SLA), then the breach (``due_at``), then a
further escalation every ``reescalate`` after the breach. The sweep takes the
timers whose check is due (``FOR UPDATE SKIP LOCKED``: several sweeps share the
work), re-reads their subjects under a row lock, and acts only on what the subject
still says — an extension moved ``due_at``, a pause stopped the clock (no running
deadline of that name), a decision closed it: the timer is brought back in step
instead. What a warning or an escalation does to the subject is the subject's
business (:meth:`Subject.warn`, :meth:`Subject.escalate`).
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import flag_modified

from qrefund.platform import validation
from qrefund.platform.clock import utcnow
from qrefund.platform.db import UnitOfWork
from qrefund.platform.deadlines.errors import DeadlineError
from qrefund.platform.deadlines.models import DeadlineTimer, EscalationContact
from qrefund.platform.deadlines.repository import (
    DeadlineTimerRepository,
    EscalationContactRepository,
    TimerKey,
)
from qrefund.platform.deadlines.subject import (
    MAX_EVENTS_PER_STEP,
    Escalation,
    Key,
    Running,
    Subject,
)
from qrefund.platform.deadlines.subjects import SUBJECTS
from qrefund.platform.errors import InvalidInput
from qrefund.platform.outbox.service import release_unused_sequences, reserve_sequences
from qrefund.platform.roles import Permission
from qrefund.platform.scope import TenantKind
from qrefund.tenants.lifecycle import cases_frozen
from qrefund.tenants.service import get_tenant, tenants_by_id

log = logging.getLogger(__name__)

__all__ = ["SUBJECTS", "Escalation", "Running", "Subject", "SweepPolicy", "SweepResult",
           "TimerKey"]


@dataclass(frozen=True)
class SweepPolicy:
    warning_fraction: float = 0.75
    reescalate: timedelta = timedelta(hours=24)
    # A subject whose handling raised is looked at again after this long.
    retry_failed_after: timedelta = timedelta(minutes=5)


# Every timer of a batch updates the same columns, so the ORM sends the batch's
# timer updates as one executemany instead of one statement per change pattern.
_TIMER_COLUMNS = ("warned_at", "breached_at", "escalations", "next_check_at", "updated_at")


def _same_columns(row: Any, *names: str) -> None:
    for name in names:
        flag_modified(row, name)


# -- timers ------------------------------------------------------------------------------


def warn_at(started: datetime, due: datetime, fraction: float) -> datetime:
    return started + (due - started) * fraction if due > started else due


def next_check(timer: DeadlineTimer, policy: SweepPolicy) -> datetime:
    if timer.breached_at is None:
        return timer.warn_at if timer.warned_at is None else timer.due_at
    return timer.due_at + policy.reescalate * max(timer.escalations, 1)


def reconcile(timer: DeadlineTimer, running: Running | None, policy: SweepPolicy,
              now: datetime) -> None:
    """Bring a timer in step with its subject's running deadline."""
    timer.updated_at = now
    if running is None:
        timer.next_check_at = None
        return
    if timer.kind != running.kind or timer.due_at != running.due_at:
        # A new deadline (review -> completion), or this one moved (extension,
        # pause): warnings and breaches start over for it.
        timer.kind, timer.due_at = running.kind, running.due_at
        timer.started_at = running.started_at
        timer.warn_at = warn_at(running.started_at, running.due_at, policy.warning_fraction)
        timer.warned_at = timer.breached_at = None
        timer.escalations = 0
    timer.next_check_at = next_check(timer, policy)


def _new_timer(key: Key, subject_type: str, name: str, running: Running, policy: SweepPolicy,
               now: datetime) -> DeadlineTimer:
    if not 0 < len(name) <= 24:
        raise ValueError(f"timer name {name!r}: 1 to 24 characters")
    return DeadlineTimer(
        tenant_id=key[0], subject_type=subject_type, subject_id=key[1], name=name,
        kind=running.kind, started_at=running.started_at, due_at=running.due_at,
        warn_at=warn_at(running.started_at, running.due_at, policy.warning_fraction),
        next_check_at=None, updated_at=now)


async def sync(uow: UnitOfWork, subject_type: str, tenant_id: uuid.UUID, subject_id: uuid.UUID,
               policy: SweepPolicy) -> dict[str, DeadlineTimer]:
    """Create or update a subject's timers from its current state (idempotent): one per
    running deadline; a timer whose deadline no longer runs stops. Returns the
    subject's timers by name."""
    DeadlineTimerRepository(uow).require_in_scope(tenant_id, what=subject_type, field=None)
    subject, key, now = SUBJECTS[subject_type], (tenant_id, subject_id), utcnow()
    found = (await subject.load(uow, [key], lock=False)).get(key)
    running = dict(subject.running(found)) if found is not None else {}
    repo = DeadlineTimerRepository(uow)
    timers = await repo.of_subject(subject_type, key)
    missing = [_new_timer(key, subject_type, name, due, policy, now)
               for name, due in running.items() if name not in timers]
    if missing:
        try:
            async with uow.savepoint():
                for timer in missing:
                    repo.add(timer)
                await uow.flush()
            timers.update((t.name, t) for t in missing)
        except IntegrityError:  # a concurrent sync created them first
            timers = await repo.of_subject(subject_type, key)
            if not running.keys() <= timers.keys():
                raise
    for name, timer in timers.items():
        reconcile(timer, running.get(name), policy, now)
    return timers


# -- the sweep ---------------------------------------------------------------------------------


@dataclass
class SweepResult:
    due: int = 0
    warned: int = 0
    breached: int = 0
    escalated: int = 0
    resynced: int = 0
    frozen: int = 0  # timers of merchants whose open cases are frozen: stopped
    failed: list[str] = field(default_factory=list)


async def claim_due(uow: UnitOfWork, now: datetime, limit: int, lease_until: datetime
                    ) -> list[TimerKey]:
    """Take up to ``limit`` due timers for one batch job: their ``next_check_at`` becomes
    ``lease_until`` (the claim; the batch acts only on timers still carrying it, and
    a lost batch's timers come due again when the lease runs out). Index-backed:
    the cost grows with the number due, not with the number of open subjects."""
    return await DeadlineTimerRepository(uow).claim_due(now, limit, lease_until)


async def claimed_timers(uow: UnitOfWork, keys: Sequence[TimerKey], lease: datetime
                         ) -> list[DeadlineTimer]:
    """The timers of a batch that still carry its claim, locked."""
    return await DeadlineTimerRepository(uow).claimed(keys, lease)


@dataclass(frozen=True)
class Hierarchy:
    """What a batch needs of its merchants: each one's agency (None if standalone), the
    escalation contacts of both, and the merchants whose open cases are frozen."""

    parents: dict[uuid.UUID, uuid.UUID | None]
    contacts: dict[uuid.UUID, str]
    frozen: frozenset[uuid.UUID] = frozenset()


async def _hierarchy(uow: UnitOfWork, tenant_ids: set[uuid.UUID]) -> Hierarchy:
    if not tenant_ids:
        return Hierarchy({}, {})
    found = await tenants_by_id(uow, tenant_ids)
    frozen = frozenset(t.id for t in found.values() if cases_frozen(t))
    parents = {t.id: t.parent_id for t in found.values()}
    # A standalone merchant's parent is the operator, not an agency to notify.
    above = await tenants_by_id(uow, {p for p in parents.values() if p})
    agencies = {t.id for t in above.values() if t.kind == TenantKind.AGENCY}
    parents = {tid: (p if p in agencies else None) for tid, p in parents.items()}
    contacts = await EscalationContactRepository(uow).of_tenants(tenant_ids | agencies)
    return Hierarchy(parents, contacts, frozen)


async def _handle(uow: UnitOfWork, timer: DeadlineTimer, found: Any, policy: SweepPolicy,
                  now: datetime, hierarchy: Hierarchy, result: SweepResult) -> None:
    subject = SUBJECTS[timer.subject_type]
    if timer.tenant_id in hierarchy.frozen:
        # Frozen with its merchant: no warning, breach or escalation. The timer stops;
        # reactivation moves the deadline on and starts it again (deadlines.freeze).
        timer.next_check_at, timer.updated_at = None, now
        _same_columns(timer, *_TIMER_COLUMNS)
        result.frozen += 1
        return
    running = subject.running(found).get(timer.name) if found is not None else None
    if running is None or (running.kind, running.due_at) != (timer.kind, timer.due_at):
        reconcile(timer, running, policy, now)
        result.resynced += 1
    elif timer.breached_at is None and now >= timer.due_at:
        parents, contacts = hierarchy.parents, hierarchy.contacts
        agency = parents.get(timer.tenant_id)
        contact = contacts.get(timer.tenant_id) or (contacts.get(agency) if agency else None)
        timer.breached_at, timer.escalations = now, 1
        await subject.escalate(uow, found, timer, Escalation(
            level=subject.escalation_level(found) + 1, first=True, contact=contact,
            agency_id=agency))
        result.breached += 1
    elif timer.breached_at is None and timer.warned_at is None and now >= timer.warn_at:
        timer.warned_at = now
        await subject.warn(uow, found, timer)
        result.warned += 1
    elif timer.breached_at is not None and now >= next_check(timer, policy):
        timer.escalations += 1
        await subject.escalate(uow, found, timer, Escalation(
            level=subject.escalation_level(found) + 1, first=False, contact=None,
            agency_id=hierarchy.parents.get(timer.tenant_id)))
        result.escalated += 1
    if running is not None:
        upcoming = next_check(timer, policy)
        if timer.breached_at is not None:
            # After a late sweep (downtime), escalate one level now, not one per
            # missed interval: the next step is a full interval away.
            upcoming = max(upcoming, now + policy.reescalate)
        timer.next_check_at = upcoming
    timer.updated_at = now
    _same_columns(timer, *_TIMER_COLUMNS)


async def _load_subjects(uow: UnitOfWork, timers: Sequence[DeadlineTimer]
                         ) -> dict[tuple[str, Key], Any]:
    """The subjects of a batch's timers, row-locked: one query per subject type (a
    subject with several timers due is read once)."""
    loaded: dict[tuple[str, Key], Any] = {}
    for subject_type in sorted({t.subject_type for t in timers}):
        if subject_type not in SUBJECTS:
            continue  # no such subject here: its timers fail (logged) and back off
        keys = sorted({(t.tenant_id, t.subject_id) for t in timers
                       if t.subject_type == subject_type})
        for key, found in (await SUBJECTS[subject_type].load(uow, keys, lock=True)).items():
            loaded[(subject_type, key)] = found
    return loaded


def _key(timer: DeadlineTimer) -> TimerKey:
    return (timer.tenant_id, timer.subject_type, timer.subject_id, timer.name)


async def sweep(uow: UnitOfWork, policy: SweepPolicy, claimed: Sequence[TimerKey],
                lease: datetime, *, now: datetime | None = None, isolate: bool = False
                ) -> SweepResult:
    """Act on one claimed batch. ``isolate=True`` handles each timer in its own
    savepoint, so one failing subject is logged and retried later while the others
    go through (the job runs a batch fast first and falls back to this if it raised)."""
    now = now or utcnow()
    timers = await claimed_timers(uow, claimed, lease)
    result = SweepResult(due=len(timers))
    loaded = await _load_subjects(uow, timers)
    hierarchy = await _hierarchy(uow, {t.tenant_id for t in timers})
    if not isolate:
        # Batch writes: event numbers reserved per tenant in one statement (at most
        # MAX_EVENTS_PER_STEP per timer; the unused tail goes back), and one flush
        # at the end, so the ORM writes the rows with a few multi-row statements.
        per_tenant = Counter(t.tenant_id for t in timers)
        await reserve_sequences(uow, "events",
                                {t: n * MAX_EVENTS_PER_STEP for t, n in per_tenant.items()})
        with uow.no_autoflush():
            for timer in timers:
                found = loaded.get((timer.subject_type, (timer.tenant_id, timer.subject_id)))
                await _handle(uow, timer, found, policy, now, hierarchy, result)
        await uow.flush()
        await release_unused_sequences(uow)
        return result
    for timer in timers:
        found = loaded.get((timer.subject_type, (timer.tenant_id, timer.subject_id)))
        key = _key(timer)
        try:
            async with uow.savepoint():
                await _handle(uow, timer, found, policy, now, hierarchy, result)
        except Exception:
            log.exception("deadline sweep: %s %s (%s) failed; retrying it later",
                          key[1], key[2], key[3])
            result.failed.append(":".join(str(part) for part in key[1:]))
            await DeadlineTimerRepository(uow).back_off(key, now + policy.retry_failed_after)
    return result


# -- escalation contacts ------------------------------------------------------------------------


async def set_escalation_contact(uow: UnitOfWork, tenant_id: uuid.UUID | None,
                                 assignee: str) -> EscalationContact:
    """Who a merchant's (or, for its merchants without one, an agency's) overdue cases
    are reassigned to. ADMIN; ``tenant_id`` None = the caller's own tenant."""
    uow.scope.require(Permission.PUBLISH_POLICY)
    who = validation.required_text(assignee, "assignee", max_len=80)
    target = tenant_id or uow.scope.actor_tenant_id
    if target is None:
        raise InvalidInput("tenantId is required for operator keys", field=["tenantId"],
                           code=DeadlineError.TENANT_REQUIRED)
    tenant = await get_tenant(uow, target)
    if tenant.kind not in (TenantKind.MERCHANT, TenantKind.AGENCY):
        raise InvalidInput("escalation contacts belong to merchants and agencies",
                           field=["tenantId"], code=DeadlineError.NOT_A_MERCHANT_OR_AGENCY)
    contacts = EscalationContactRepository(uow)
    contact = await contacts.of_tenant(tenant.id, lock=True)
    if contact is None:
        contact = EscalationContact(tenant_id=tenant.id, assignee=who,
                                    updated_by=uow.scope.actor[:80])
    contact.assignee, contact.updated_by, contact.updated_at = who, uow.scope.actor[:80], utcnow()
    contacts.add(contact)
    await uow.flush()
    return contact


async def escalation_contact(uow: UnitOfWork, tenant_id: uuid.UUID) -> EscalationContact | None:
    uow.scope.require(Permission.READ)
    contacts = EscalationContactRepository(uow)
    contacts.require_in_scope(tenant_id, what="tenant", field=None)
    return await contacts.of_tenant(tenant_id)
