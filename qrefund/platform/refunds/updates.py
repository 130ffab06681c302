"""Refund case updates for live subscribers (``refundCaseUpdates``).

:func:`refund_case_updates` checks the caller and its arguments at once, then
returns the stream: every committed ``refund_case.*`` event of the chosen
merchants after the cursor (replayed from the table, then live through the
process's pub/sub hub), each with the case as of the event (the event's
snapshot: a replay tells what happened then) and as it is now, read in the
caller's scope.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from qrefund.platform.db import Database
from qrefund.platform.errors import DomainError
from qrefund.platform.outbox import feed, stream
from qrefund.platform.outbox.hub import Hub
from qrefund.platform.refunds import service as refunds
from qrefund.platform.refunds.models import RefundCase
from qrefund.platform.roles import Permission
from qrefund.platform.scope import TenantScope


@dataclass(frozen=True)
class CaseUpdate:
    cursor: str  # resume after this update
    event_type: str
    occurred_at: datetime
    snapshot: dict[str, Any]  # the case as of this event (the event's payload)
    case: RefundCase | None  # the case now; None once it is no longer visible


def refund_case_updates(
    db: Database,
    hub: Hub,
    scope: TenantScope,
    *,
    merchant_ids: Sequence[uuid.UUID] | None,
    after: str | None,
) -> AsyncGenerator[CaseUpdate, None]:
    """Raises a :class:`DomainError` before anything streams (role, merchants, cursor)."""
    scope.require(Permission.SUBSCRIBE)
    tenants = stream.tenants_to_follow(scope, merchant_ids)
    cursor = feed.Cursor.parse(after)
    return _updates(db, hub, scope, tenants, cursor)


async def _updates(
    db: Database, hub: Hub, scope: TenantScope, tenants: list[uuid.UUID],
    cursor: feed.Cursor | None,
) -> AsyncGenerator[CaseUpdate, None]:
    events = stream.follow(db, hub, scope, tenants, "refund_case", cursor)
    async with aclosing(events):  # closing this stream unsubscribes at once
        async for item, position in events:
            snapshots = await feed.payloads(db, scope, [item])
            yield CaseUpdate(
                cursor=position,
                event_type=item.type,
                occurred_at=datetime.fromisoformat(item.occurred_at),
                snapshot=snapshots.get((item.tenant_id, item.seq), {}),
                case=await _case(db, scope, item),
            )


async def _case(db: Database, scope: TenantScope, item: feed.FeedItem) -> RefundCase | None:
    try:
        async with db.unit_of_work(scope, readonly=True) as uow:
            case = await refunds.get_case(uow, item.tenant_id, item.aggregate_id)
            uow.expunge(case)  # a snapshot: the read unit's rollback must not expire it
            return case
    except DomainError:
        return None
