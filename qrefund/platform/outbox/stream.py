"""A live, resumable stream of one aggregate type's committed events: catch up, then follow.

:func:`follow` subscribes to the tenants' channels on the process's :class:`Hub`
first, then replays from the table what the cursor has not seen, then passes on
live messages. Each tenant's sequence numbers are gapless, so the stream knows
exactly what it has had and what is missing:

* a message it has already seen (replayed, or published twice) is skipped;
* a message that skips numbers (relays on several workers publish concurrently,
  so a tenant's events can arrive out of order) sends it back to the table,
  which has everything committed before that message;
* when the hub may have lost messages (Redis reconnected) or the stream's inbox
  overflowed because its consumer is slow, it catches up from the table too.

So nothing is lost and nothing repeated, at the seam or later. Every message on a
tenant's channel moves the position, whatever its type; only ``aggregate_type``'s
events are yielded.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from qrefund.platform.db import Database, UnitOfWork
from qrefund.platform.errors import CommonError, DomainError, InvalidInput, NotFound
from qrefund.platform.outbox import feed
from qrefund.platform.outbox.hub import Hub
from qrefund.platform.scope import TenantScope

S = TypeVar("S")

# Messages a stream holds for its consumer; beyond that it drops them and catches up
# from the table when the consumer is back (a slow client costs it memory no more).
INBOX_LIMIT = 1000


def tenants_to_follow(scope: TenantScope, merchant_ids: Sequence[uuid.UUID] | None
                      ) -> list[uuid.UUID]:
    """The tenants a subscription follows: the named merchants (each in scope, else
    NOT_FOUND, as for another tenant's id anywhere), or every tenant in scope; the
    operator, whose scope has no end, must name them."""
    if merchant_ids:
        if not all(scope.allows(m) for m in merchant_ids):
            raise NotFound("merchant not found", field=["merchantIds"])
        return sorted(set(merchant_ids))
    if scope.tenant_ids is None:
        raise InvalidInput(
            "the operator must name merchantIds", field=["merchantIds"],
            code=CommonError.MERCHANT_REQUIRED,
        )
    return sorted(scope.tenant_ids)


class Inbox:
    """The hub's deliveries for one stream, not consumed yet (a hub :class:`Listener`)."""

    def __init__(self, limit: int = INBOX_LIMIT) -> None:
        self.items: deque[feed.FeedItem] = deque()
        self.behind = True  # a stream starts by catching up
        self._limit = limit
        self._wake = asyncio.Event()

    def deliver(self, channel: str, data: bytes) -> None:
        item = feed.parse_message(data)
        if item is None:
            return
        if len(self.items) >= self._limit:
            self.items.clear()
            self.behind = True
        else:
            self.items.append(item)
        self._wake.set()

    def lost(self, channel: str) -> None:
        self.behind = True
        self._wake.set()

    async def wait(self) -> None:
        while not self.items and not self.behind:
            self._wake.clear()
            await self._wake.wait()


async def follow(
    db: Database,
    hub: Hub,
    scope: TenantScope,
    tenant_ids: Iterable[uuid.UUID],
    aggregate_type: str,
    cursor: feed.Cursor | None,
    *,
    inbox: Inbox | None = None,
) -> AsyncGenerator[tuple[feed.FeedItem, str], None]:
    """``(event, cursor after it)`` for every event after ``cursor`` (None: from now)."""
    tenants = sorted(set(tenant_ids))
    position = cursor or await feed.head(db, scope, tenants)
    inbox = inbox or Inbox()
    channels = [feed.events_channel(t) for t in tenants]
    # Subscribe before catching up: whatever commits in between is then in both.
    await hub.subscribe(channels, inbox)
    try:
        while True:
            await inbox.wait()
            if inbox.behind:
                inbox.behind = False
                async for item in _catch_up(db, scope, tenants, aggregate_type, position):
                    yield item, position.encode()
                continue
            item = inbox.items.popleft()
            last = position.last(item.tenant_id)
            if item.seq <= last:
                continue
            if item.seq > last + 1:
                inbox.behind = True  # an earlier event has not reached us; the table has it
                continue
            position.advance(item.tenant_id, item.seq)
            if item.aggregate_type == aggregate_type:
                yield item, position.encode()
    finally:
        await hub.unsubscribe(channels, inbox)


async def _catch_up(
    db: Database, scope: TenantScope, tenants: list[uuid.UUID], aggregate_type: str,
    position: feed.Cursor,
) -> AsyncIterator[feed.FeedItem]:
    while True:
        page, heads = await feed.replay(db, scope, tenants, aggregate_type, position)
        for item in page:
            if not position.seen(item.tenant_id, item.seq):
                position.advance(item.tenant_id, item.seq)
                yield item
        if len(page) < feed.REPLAY_LIMIT:
            for tenant_id, seq in heads.items():
                position.advance(tenant_id, seq)
            return


@dataclass(frozen=True)
class Update(Generic[S]):
    """One committed event of a subject, as a subscriber receives it."""

    cursor: str  # resume after this update
    event_type: str
    occurred_at: datetime
    snapshot: dict[str, Any]  # the subject as of this event (the event's payload)
    subject: S | None  # the subject now; None once it is no longer visible


async def subject_updates(
    db: Database, hub: Hub, scope: TenantScope, tenants: list[uuid.UUID], aggregate_type: str,
    cursor: feed.Cursor | None, load: Callable[[UnitOfWork, feed.FeedItem], Awaitable[S]],
    *, withheld: frozenset[str] = frozenset(),
) -> AsyncGenerator[Update[S], None]:
    """:func:`follow` for one aggregate type, each event with its snapshot and the subject
    as it is now (``load``, in a read unit of ``scope``; a :class:`DomainError` there
    means it is no longer visible). Events of a ``withheld`` type are skipped: the next
    update's cursor moves past them."""
    items = follow(db, hub, scope, tenants, aggregate_type, cursor)
    async with aclosing(items):  # closing this stream unsubscribes at once
        async for item, position in items:
            if item.type in withheld:
                continue
            snapshots = await feed.payloads(db, scope, [item])
            yield Update(cursor=position, event_type=item.type,
                         occurred_at=datetime.fromisoformat(item.occurred_at),
                         snapshot=snapshots.get((item.tenant_id, item.seq), {}),
                         subject=await _load(db, scope, item, load))


async def _load(db: Database, scope: TenantScope, item: feed.FeedItem,
                load: Callable[[UnitOfWork, feed.FeedItem], Awaitable[S]]) -> S | None:
    try:
        async with db.unit_of_work(scope, readonly=True) as uow:
            found = await load(uow, item)
            uow.expunge(found)  # a snapshot: the read unit's rollback must not expire it
            return found
    except DomainError:
        return None
