"""The one table of deadline subjects.

A domain with deadlines implements :class:`~qrefund.platform.deadlines.subject.Subject`
next to its own code and is listed in :data:`SUBJECTS` below; that is the only
registration (nothing registers itself on import). The deadline jobs read this
table to know which event families re-sync timers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from qrefund.platform.complaints.deadlines import ComplaintTicketSubject
from qrefund.platform.deadlines.subject import Subject
from qrefund.platform.refunds.deadlines import RefundCaseSubject

_NAME = re.compile(r"[a-z][a-z_]{0,23}")  # a subject type (a column of 24) or event family


class SubjectRegistry:
    """Subjects by type, each with an event family of its own."""

    def __init__(self, *subjects: Subject) -> None:
        self._by_type: dict[str, Subject] = {}
        for subject in subjects:
            self.register(subject)

    def register(self, subject: Subject) -> None:
        """Add a subject; refuses a type or event family already taken, and own events
        outside the subject's family (they would re-sync another subject's timers)."""
        for name in (subject.type, subject.event_family):
            if not _NAME.fullmatch(name):
                raise ValueError(f"{name!r}: 1 to 24 lowercase letters and underscores")
        if subject.type in self._by_type:
            raise ValueError(f"subject type {subject.type!r} is already registered")
        if self.by_family(subject.event_family) is not None:
            raise ValueError(f"event family {subject.event_family!r} is already registered")
        strays = sorted(e for e in subject.own_events
                        if not e.startswith(f"{subject.event_family}."))
        if strays:
            raise ValueError(f"own events outside the {subject.event_family!r} family: {strays}")
        self._by_type[subject.type] = subject

    def unregister(self, subject_type: str) -> None:
        self._by_type.pop(subject_type, None)

    def __getitem__(self, subject_type: str) -> Subject:
        return self._by_type[subject_type]

    def __contains__(self, subject_type: object) -> bool:
        return subject_type in self._by_type

    def __iter__(self) -> Iterator[Subject]:
        return iter(list(self._by_type.values()))

    def by_family(self, event_family: str) -> Subject | None:
        return next((s for s in self._by_type.values() if s.event_family == event_family),
                    None)


SUBJECTS = SubjectRegistry(
    RefundCaseSubject(),
    ComplaintTicketSubject(),
)
