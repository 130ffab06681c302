"""A resumable feed of committed events for live subscribers.

Committed events reach Redis pub/sub through the outbox relay (channel
``qrefund:events:<tenant_id>``). A subscriber that passes a cursor first gets
what it missed from the ``domain_events`` table, then the live stream; the
per-tenant sequence numbers in the cursor let it skip what it has already seen,
so nothing is lost or repeated at the seam (it subscribes before it replays).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from qrefund.platform.db import Database
from qrefund.platform.outbox.models import DomainEvent
from qrefund.platform.pagination import decode_json, invalid_cursor
from qrefund.platform.repository import scoped
from qrefund.platform.scope import TenantScope

REPLAY_LIMIT = 1000


@dataclass(frozen=True)
class FeedItem:
    tenant_id: uuid.UUID
    seq: int
    type: str
    aggregate_id: uuid.UUID
    occurred_at: str


class Cursor:
    """Last sequence number seen per tenant, as an opaque base64url string."""

    def __init__(self, positions: dict[uuid.UUID, int] | None = None) -> None:
        self.positions = dict(positions or {})

    @classmethod
    def parse(cls, value: str | None) -> Cursor | None:
        if not value:
            return None
        try:
            raw = decode_json(value)
            if not isinstance(raw, dict) or not all(
                isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**63
                for v in raw.values()
            ):
                raise ValueError
            return cls({uuid.UUID(k): v for k, v in raw.items()})
        except ValueError:
            raise invalid_cursor() from None

    def seen(self, tenant_id: uuid.UUID, seq: int) -> bool:
        return seq <= self.positions.get(tenant_id, 0)

    def advance(self, tenant_id: uuid.UUID, seq: int) -> None:
        self.positions[tenant_id] = max(seq, self.positions.get(tenant_id, 0))

    def encode(self) -> str:
        raw = json.dumps({str(k): v for k, v in sorted(self.positions.items())}).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def replay(
    db: Database,
    scope: TenantScope,
    tenant_ids: Iterable[uuid.UUID],
    aggregate_type: str,
    cursor: Cursor,
) -> list[FeedItem]:
    """Events after the cursor, oldest first (at most REPLAY_LIMIT)."""
    wanted = [(t, cursor.positions.get(t, 0)) for t in tenant_ids]
    items: list[FeedItem] = []
    async with db.unit_of_work(scope, readonly=True) as uow:
        for tenant_id, after in wanted:
            stmt = select(DomainEvent).where(
                col(DomainEvent.tenant_id) == tenant_id,
                col(DomainEvent.seq) > after,
                col(DomainEvent.aggregate_type) == aggregate_type,
            )
            stmt = scoped(stmt, col(DomainEvent.tenant_id), uow.scope)
            stmt = stmt.order_by(col(DomainEvent.seq))
            for event in (await uow.session.execute(stmt.limit(REPLAY_LIMIT))).scalars():
                items.append(
                    FeedItem(
                        event.tenant_id,
                        event.seq,
                        event.type,
                        event.aggregate_id,
                        event.occurred_at.isoformat(),
                    )
                )
    items.sort(key=lambda i: i.occurred_at)
    return items[:REPLAY_LIMIT]


def parse_message(data: bytes | str) -> FeedItem | None:
    try:
        raw: dict[str, Any] = json.loads(data)
        return FeedItem(
            uuid.UUID(raw["tenantId"]),
            int(raw["seq"]),
            str(raw["type"]),
            uuid.UUID(raw["aggregateId"]),
            str(raw["occurredAt"]),
        )
    except (KeyError, ValueError, TypeError):
        return None


async def live(pubsub: Any, aggregate_prefix: str) -> AsyncIterator[FeedItem]:
    """Messages from an already-subscribed redis.asyncio PubSub."""
    async for message in pubsub.listen():
        if message.get("type") != "message":
            continue
        item = parse_message(message["data"])
        if item is not None and item.type.startswith(aggregate_prefix):
            yield item
