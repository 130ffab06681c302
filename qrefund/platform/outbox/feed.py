"""Committed events for live subscribers: their cursor, their messages, their replay.

Committed events reach Redis pub/sub through the outbox relay (channel
``qrefund:events:<tenant_id>``, see :func:`events_channel`). Each tenant's events
carry a gapless sequence number, so a :class:`Cursor` (the last number seen per
tenant) says exactly what a subscriber has had; :func:`replay` reads what came
after it from the ``domain_events`` table. :mod:`qrefund.platform.outbox.stream`
puts the two together.
"""

from __future__ import annotations

import base64
import heapq
import json
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from qrefund.platform.db import Database, UnitOfWork
from qrefund.platform.outbox.models import DomainEvent
from qrefund.platform.outbox.repository import DomainEventRepository, TenantSequenceRepository
from qrefund.platform.pagination import decode_json, invalid_cursor
from qrefund.platform.scope import TenantScope

REPLAY_LIMIT = 1000
_EVENTS_SEQUENCE = "events"  # the tenant_sequences counter record_event draws from


def events_channel(tenant_id: uuid.UUID | str) -> str:
    """The pub/sub channel of one tenant's committed events (the relay publishes on it;
    ``qrefund.jobs.registry.events_channel`` is the same, a test keeps them equal)."""
    return f"qrefund:events:{tenant_id}"


@dataclass(frozen=True)
class FeedItem:
    tenant_id: uuid.UUID
    seq: int
    type: str
    aggregate_type: str
    aggregate_id: uuid.UUID
    occurred_at: str


# A feed cursor holds a position per tenant followed (~55 characters each once
# encoded): an agency's cursor grows with its merchants, so it may be far longer than
# a list's keyset cursor. This fits about 1,100 tenants with events.
MAX_FEED_CURSOR_LENGTH = 64 * 1024


class Cursor:
    """Last sequence number seen per tenant, as an opaque base64url string.

    A tenant the cursor does not name counts as 0 (from its first event).
    """

    def __init__(self, positions: dict[uuid.UUID, int] | None = None) -> None:
        self.positions = dict(positions or {})

    @classmethod
    def parse(cls, value: str | None) -> Cursor | None:
        if not value:
            return None
        try:
            raw = decode_json(value, MAX_FEED_CURSOR_LENGTH)
            if not isinstance(raw, dict) or not all(
                isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**63
                for v in raw.values()
            ):
                raise ValueError
            return cls({uuid.UUID(k): v for k, v in raw.items()})
        except ValueError:
            raise invalid_cursor() from None

    def last(self, tenant_id: uuid.UUID) -> int:
        return self.positions.get(tenant_id, 0)

    def seen(self, tenant_id: uuid.UUID, seq: int) -> bool:
        return seq <= self.last(tenant_id)

    def advance(self, tenant_id: uuid.UUID, seq: int) -> None:
        self.positions[tenant_id] = max(seq, self.last(tenant_id))

    def encode(self) -> str:
        raw = json.dumps({str(k): v for k, v in sorted(self.positions.items()) if v}).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def _heads(uow: UnitOfWork, tenant_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Each tenant's last committed sequence number (its counter: one key look-up each)."""
    return dict(await TenantSequenceRepository(uow).heads(_EVENTS_SEQUENCE, tenant_ids))


async def head(db: Database, scope: TenantScope, tenant_ids: Iterable[uuid.UUID]) -> Cursor:
    """A cursor at "now": after every event committed so far."""
    async with db.unit_of_work(scope, readonly=True) as uow:
        return Cursor(await _heads(uow, sorted(set(tenant_ids))))


async def replay(
    db: Database,
    scope: TenantScope,
    tenant_ids: Iterable[uuid.UUID],
    aggregate_type: str,
    cursor: Cursor,
    limit: int = REPLAY_LIMIT,
) -> tuple[list[FeedItem], dict[uuid.UUID, int]]:
    """Up to ``limit`` events of ``aggregate_type`` after the cursor, and each tenant's head.

    The events are each tenant's in sequence order, interleaved by time; a short page
    (fewer than ``limit``) holds every such event up to the heads, which were read
    first, so the caller may then move its cursor to them.
    """
    events, heads = await matching(db, scope, tenant_ids, cursor, limit=limit,
                                   aggregate_types=(aggregate_type,))
    return [_item(event) for event in events], heads


async def matching(
    db: Database,
    scope: TenantScope,
    tenant_ids: Iterable[uuid.UUID],
    cursor: Cursor,
    *,
    limit: int,
    aggregate_types: Collection[str] = (),
    types: Collection[str] = (),
) -> tuple[list[DomainEvent], dict[uuid.UUID, int]]:
    """:func:`replay`'s rows, of any of ``aggregate_types`` or exactly one of ``types``."""
    async with db.unit_of_work(scope, readonly=True) as uow:
        events, heads = await matching_in(uow, tenant_ids, cursor, limit=limit,
                                          aggregate_types=aggregate_types, types=types)
        for event in events:
            uow.expunge(event)  # read after the unit closes
        return events, heads


async def matching_in(
    uow: UnitOfWork,
    tenant_ids: Iterable[uuid.UUID],
    cursor: Cursor,
    *,
    limit: int,
    aggregate_types: Collection[str] = (),
    types: Collection[str] = (),
) -> tuple[list[DomainEvent], dict[uuid.UUID, int]]:
    """:func:`matching` in the caller's unit (the ``events`` feed's request reader)."""
    wanted = sorted(set(tenant_ids))
    per_tenant: list[list[DomainEvent]] = []
    heads = await _heads(uow, wanted)
    for tenant_id in wanted:
        if heads[tenant_id] <= cursor.last(tenant_id):
            continue  # nothing new: no statement
        per_tenant.append(await DomainEventRepository(uow).matching_after(
            tenant_id, cursor.last(tenant_id), aggregate_types=aggregate_types,
            types=types, limit=limit))
    # A merge keeps each tenant's own order, so a cut page is a prefix of each tenant's events.
    merged = heapq.merge(*per_tenant, key=lambda e: e.occurred_at)
    return [event for _, event in zip(range(limit), merged, strict=False)], heads


async def payloads(db: Database, scope: TenantScope, items: Iterable[FeedItem]
                   ) -> dict[tuple[uuid.UUID, int], dict[str, Any]]:
    """The payloads (snapshots as of each event) of ``items``, by (tenant id, seq)."""
    keys = [(item.tenant_id, item.seq) for item in items]
    if not keys:
        return {}
    async with db.unit_of_work(scope, readonly=True) as uow:
        events = await DomainEventRepository(uow).by_seq(keys)
        return {(e.tenant_id, e.seq): dict(e.payload) for e in events}


def _item(event: DomainEvent) -> FeedItem:
    return FeedItem(event.tenant_id, event.seq, event.type, event.aggregate_type,
                    event.aggregate_id, event.occurred_at.isoformat())


def parse_message(data: bytes | str) -> FeedItem | None:
    """A relay message (``qrefund.jobs.registry.encode_message``), or None if malformed."""
    try:
        raw: dict[str, Any] = json.loads(data)
        return FeedItem(
            uuid.UUID(raw["tenantId"]),
            int(raw["seq"]),
            str(raw["type"]),
            str(raw["aggregateType"]),
            uuid.UUID(raw["aggregateId"]),
            str(raw["occurredAt"]),
        )
    except (KeyError, ValueError, TypeError):
        return None
