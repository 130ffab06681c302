"""The ``events`` feed: an integrator polls what webhooks push and subscriptions stream.

One catalogue (:data:`qrefund.platform.events.CATALOGUE`, public families only) and
one cursor (:class:`qrefund.platform.outbox.feed.Cursor`, each tenant's last
sequence number): a cursor from ``refundCaseUpdates`` or ``complaintUpdates`` is a
valid ``after`` here and the other way round, so a client can switch between
polling and listening with no gap and no duplicate. Each event carries its payload,
the snapshot of its subject as of that event.

A page is each tenant's events in sequence order, interleaved by time. Every
event's cursor is the position just after it; a page shorter than ``first``
reached every tenant's head, and its end cursor moves past the events the type
filter skipped, so the next poll reads only what is new.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from qrefund.platform.complaints.events import STAFF_ONLY
from qrefund.platform.complaints.queries import sees_notes
from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import CommonError, InvalidInput
from qrefund.platform.events import CATALOGUE
from qrefund.platform.outbox import feed, stream
from qrefund.platform.roles import Permission

MAX_PAGE = 500
DEFAULT_PAGE = 100
MAX_TYPES = 50


@dataclass(frozen=True)
class FeedEvent:
    cursor: str  # resume after this event
    id: uuid.UUID
    type: str
    occurred_at: datetime
    merchant_id: uuid.UUID
    subject_id: uuid.UUID
    snapshot: dict[str, Any]


@dataclass(frozen=True)
class FeedPage:
    events: list[FeedEvent]
    end_cursor: str
    has_next_page: bool


@dataclass(frozen=True)
class Selection:
    """Which events: whole families (``refund_case.*``, or every public one for ``*``)
    and exact types."""

    families: frozenset[str]
    types: frozenset[str]


def select_types(values: Sequence[str] | None) -> Selection:
    """``types`` as the caller wrote it: exact public types, ``<family>.*`` or ``*``;
    none means every public type."""
    public = {f.name for f in CATALOGUE if f.public}
    if not values:
        return Selection(frozenset(public), frozenset())
    if len(values) > MAX_TYPES:
        raise InvalidInput(f"at most {MAX_TYPES} types", field=["types"], code=CommonError.TOO_MANY)
    families: set[str] = set()
    types: set[str] = set()
    for raw in values:
        value = (raw or "").strip()
        family, _, event = value.partition(".")
        if value == "*":
            families |= public
        elif family in public and event == "*":
            families.add(family)
        elif family in public and CATALOGUE.spec(value) is not None:
            types.add(value)
        else:
            raise InvalidInput(f"unknown event type {value[:64]!r}: an exact public type, "
                               "<family>.* or *", field=["types"],
                               code=CommonError.INVALID_INPUT)
    return Selection(frozenset(families), frozenset(types - _covered(types, families)))


def _covered(types: set[str], families: set[str]) -> set[str]:
    return {t for t in types if t.partition(".")[0] in families}


def page_size(first: int | None) -> int:
    size = DEFAULT_PAGE if first is None else first
    if not 1 <= size <= MAX_PAGE:
        raise InvalidInput(f"first must be 1..{MAX_PAGE}", field=["first"],
                           code=CommonError.INVALID_PAGE_SIZE)
    return size


async def events_page(uow: UnitOfWork, *,
                      merchant_ids: Sequence[uuid.UUID] | None, types: Sequence[str] | None,
                      after: str | None, first: int | None) -> FeedPage:
    """One page of the feed (raises a :class:`DomainError` for bad arguments)."""
    uow.scope.require(Permission.READ)
    tenants = stream.tenants_to_follow(uow.scope, merchant_ids)
    selection = select_types(types)
    size = page_size(first)
    cursor = feed.Cursor.parse(after) or feed.Cursor()
    rows, heads = await feed.matching_in(uow, tenants, cursor, limit=size,
                                         aggregate_types=selection.families,
                                         types=selection.types)
    position = feed.Cursor(dict(cursor.positions))
    out: list[FeedEvent] = []
    hidden = frozenset() if sees_notes(uow.scope) else STAFF_ONLY
    for row in rows:
        position.advance(row.tenant_id, row.seq)
        if row.type in hidden:
            continue  # as in complaintUpdates: staff-only signals reach staff only
        out.append(FeedEvent(position.encode(), row.id, row.type, row.occurred_at,
                             row.tenant_id, row.aggregate_id, dict(row.payload)))
    full = len(rows) == size
    if not full:  # every tenant read up to its head: skip what the filter left out
        for tenant_id, seq in heads.items():
            position.advance(tenant_id, seq)
    return FeedPage(out, position.encode(), full)


