"""refundCaseUpdates: live refund-case changes over graphql-transport-ws.

The stream itself (permission, merchants, replay from the cursor, then the live
tail through the process's pub/sub hub) is
:func:`qrefund.platform.refunds.updates.refund_case_updates`; this resolver parses
the arguments and maps each update to GraphQL.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.context import Info
from qrefund.graphql_schema.errors import ExpectedGraphQLError, RequestError, query_error
from qrefund.graphql_schema.refunds.types import RefundCaseType
from qrefund.graphql_schema.websocket import SocketContext
from qrefund.platform.errors import DomainError
from qrefund.platform.refunds.updates import CaseUpdate, refund_case_updates


@strawberry.type
class RefundCaseUpdate:
    cursor: str = strawberry.field(description="Pass as `after` to resume after this update.")
    event_type: str
    occurred_at: datetime
    snapshot: JSON = strawberry.field(
        description="The case as of this event (status, amounts, deadlines, escalation): a "
        "replay shows what happened then. The shape is refund_case's in the event catalogue."
    )
    refund_case: RefundCaseType | None = strawberry.field(
        description="The case as it is now; null if it is no longer visible."
    )

    @classmethod
    def of(cls, update: CaseUpdate) -> RefundCaseUpdate:
        return cls(
            cursor=update.cursor,
            event_type=update.event_type,
            occurred_at=update.occurred_at,
            snapshot=JSON(update.snapshot),
            refund_case=RefundCaseType.of(update.case) if update.case is not None else None,
        )


@strawberry.type
class Subscription:
    @strawberry.subscription(description="Refund case changes for merchants in scope.")
    async def refund_case_updates(
        self, info: Info, merchant_ids: list[strawberry.ID] | None = None, after: str | None = None
    ) -> AsyncGenerator[RefundCaseUpdate, None]:
        ctx = info.context
        scope = ctx.require_scope()
        if not isinstance(ctx, SocketContext):
            raise ExpectedGraphQLError("subscriptions run over WebSocket (graphql-transport-ws)",
                                       extensions={"code": RequestError.WEBSOCKET_REQUIRED})
        try:
            merchants = [ids.tenant_id_of(m, "merchantIds") for m in merchant_ids or ()]
            updates = refund_case_updates(ctx.db, ctx.hub, scope,
                                          merchant_ids=merchants or None, after=after)
        except DomainError as error:
            raise query_error(error) from None
        async with aclosing(updates):
            async for update in updates:
                yield RefundCaseUpdate.of(update)
                # The update has been resolved and sent: read the next one afresh.
                await ctx.end_reads()
