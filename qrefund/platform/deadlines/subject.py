"""What a domain implements to have deadlines watched: the :class:`Subject` seam.

A subject type (refund cases, later complaint tickets) owns its rows and its
events; the deadline domain owns the timers. A subject says which deadlines are
running for one of its rows (:meth:`Subject.running`: several at once, each under
a timer name), and what happens when one is near (:meth:`Subject.warn`) or past
(:meth:`Subject.escalate`). Subjects are listed in one table,
:data:`qrefund.platform.deadlines.subjects.SUBJECTS`; nothing registers on import.

Events: a subject's events are ``<event_family>.<what>`` with the subject's id as
their aggregate id. Each of them (except the subject's ``own_events``, the ones
:meth:`~Subject.warn` and :meth:`~Subject.escalate` write) makes the deadline job
re-read the subject and bring its timers in step.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from qrefund.platform.db import UnitOfWork
    from qrefund.platform.deadlines.models import DeadlineTimer

Key = tuple[uuid.UUID, uuid.UUID]  # (tenant id, subject id)


@dataclass(frozen=True)
class Running:
    """A deadline a subject's clock is counting toward now. ``kind`` says which one
    (a refund case's single timer goes ``review`` -> ``completion``): a new kind or
    a moved ``due_at`` starts the timer's warnings and breaches over."""

    kind: str
    started_at: datetime
    due_at: datetime


@dataclass
class Escalation:
    level: int  # the subject's escalation level after this step
    first: bool  # the breach itself (vs. a later step)
    contact: str | None  # who the subject is reassigned to (first step only)
    agency_id: uuid.UUID | None  # the merchant's agency (None: standalone)


class Subject(Protocol):
    """Something with deadlines the sweep watches."""

    # The ``subject_type`` of its timers (at most 24 characters).
    type: str
    # Its events are ``<event_family>.*``.
    event_family: str
    # Event types it writes itself when warned or escalated: they change nothing a
    # timer depends on, so they do not re-sync it.
    own_events: frozenset[str]

    async def load(self, uow: UnitOfWork, keys: Sequence[Key], *, lock: bool
                   ) -> dict[Key, Any]:
        """The subjects of ``keys`` in the unit's scope (missing ones left out);
        ``lock``: row-locked and fresh (the sweep acts on what they say)."""
        ...

    def running(self, subject: Any) -> Mapping[str, Running]:
        """The deadlines running now, by timer name (empty: paused or closed). A
        timer whose name is absent stops; a new name starts a timer."""
        ...

    def escalation_level(self, subject: Any) -> int:
        """The subject's escalation level now (0: never escalated)."""
        ...

    async def warn(self, uow: UnitOfWork, subject: Any, timer: DeadlineTimer) -> None:
        """``timer``'s deadline is near (events: see ``MAX_EVENTS_PER_STEP``)."""
        ...

    async def escalate(self, uow: UnitOfWork, subject: Any, timer: DeadlineTimer,
                       escalation: Escalation) -> None:
        """``timer``'s deadline passed (``escalation.first``) or is still passed a
        re-escalation interval later (events: see ``MAX_EVENTS_PER_STEP``)."""
        ...

    async def thaw(self, uow: UnitOfWork, tenant_id: uuid.UUID, frozen_from: datetime,
                   frozen_to: datetime) -> list[Key]:
        """The merchant's open cases were frozen (a FREEZE suspension) over this span:
        move their running deadlines on by it, with an event each. Returns the keys of
        the subjects moved (their timers are synced next)."""
        ...


# Outbox events one warn/escalate step writes at most for a timer (a refund case's
# breach at level 2+: escalated/deadline_breached and agency_notified). The sweep
# reserves this many event numbers per due timer in one statement and gives back
# the rest; a step that writes more still works, drawing the others one by one.
MAX_EVENTS_PER_STEP = 2


# Writes one of a subject's own events: (event name, note, data).
Record = Callable[[str, str, dict[str, Any]], Awaitable[None]]


async def record_warning(timer: DeadlineTimer, record: Record) -> None:
    """The ``deadline_warning`` event every subject writes the same way."""
    await record("deadline_warning", f"the {timer.kind} deadline is at "
                 f"{timer.due_at.isoformat()}",
                 {"deadline": timer.kind, "dueAt": timer.due_at.isoformat()})


async def record_escalation(subject: Any, timer: DeadlineTimer, escalation: Escalation,
                            record: Record) -> None:
    """One escalation step on a subject with ``escalation_level`` and ``assignee``: the new
    level, the escalation contact on the first breach, ``deadline_breached`` (first) or
    ``escalated``, and ``agency_notified`` from level 2 when the merchant has an agency."""
    previous = subject.assignee
    subject.escalation_level = escalation.level
    if escalation.contact and escalation.first:
        subject.assignee = escalation.contact
    data = {"deadline": timer.kind, "dueAt": timer.due_at.isoformat(),
            "escalationLevel": escalation.level, "assignee": subject.assignee,
            "previousAssignee": previous}
    await record("deadline_breached" if escalation.first else "escalated",
                 f"the {timer.kind} deadline passed; escalation level {escalation.level}", data)
    if escalation.level >= 2 and escalation.agency_id is not None:
        await record("agency_notified",
                     f"escalation level {escalation.level}: the agency is notified",
                     {**data, "agencyId": str(escalation.agency_id)})
