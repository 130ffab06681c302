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

from qrefund.platform.db import Database, UnitOfWork
from qrefund.platform.outbox import feed, stream
from qrefund.platform.outbox.hub import Hub
from qrefund.platform.refunds import service as refunds
from qrefund.platform.refunds.models import RefundCase
from qrefund.platform.roles import Permission
from qrefund.platform.scope import TenantScope

CaseUpdate = stream.Update[RefundCase]


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
    return stream.subject_updates(db, hub, scope, tenants, "refund_case", cursor, _case)


async def _case(uow: UnitOfWork, item: feed.FeedItem) -> RefundCase:
    return await refunds.get_case(uow, item.tenant_id, item.aggregate_id)
