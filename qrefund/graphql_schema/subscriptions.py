"""refundCaseUpdates: live refund-case changes over graphql-transport-ws.

Fanned out through Redis pub/sub (the outbox relay publishes every committed
event), resumable with the ``cursor`` of the last update received.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Any

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.context import Context, Info
from qrefund.graphql_schema.errors import query_error
from qrefund.graphql_schema.refunds.types import RefundCaseType
from qrefund.platform.errors import DomainError, InvalidInput
from qrefund.platform.outbox import feed
from qrefund.platform.refunds import service as refunds
from qrefund.platform.roles import Permission
from qrefund.platform.scope import TenantScope


@strawberry.type
class RefundCaseUpdate:
    cursor: str = strawberry.field(description="Pass as `after` to resume after this update.")
    event_type: str
    occurred_at: datetime
    refund_case: RefundCaseType | None = strawberry.field(
        description="The case as it is now; null if it is no longer visible."
    )


def _tenants(scope: TenantScope, merchant_ids: list[strawberry.ID] | None) -> list[uuid.UUID]:
    if merchant_ids:
        wanted = [
            scope.require_tenant(ids.tenant_id_of(m, "merchantIds"), "merchant")
            for m in merchant_ids
        ]
        return sorted(set(wanted))
    if scope.tenant_ids is None:
        raise InvalidInput(
            "the operator must name merchantIds", field=["merchantIds"], code="MERCHANT_REQUIRED"
        )
    return sorted(scope.tenant_ids)


async def _update(
    ctx: Context, scope: TenantScope, item: feed.FeedItem, cursor: feed.Cursor
) -> RefundCaseUpdate:
    case = None
    try:
        async with ctx.db.unit_of_work(scope, readonly=True) as uow:
            case = RefundCaseType.of(await refunds.get_case(uow, item.tenant_id, item.aggregate_id))
    except DomainError:
        case = None
    return RefundCaseUpdate(
        cursor=cursor.encode(),
        event_type=item.type,
        occurred_at=datetime.fromisoformat(item.occurred_at),
        refund_case=case,
    )


def _subscriber(ctx: Context) -> Any:
    """An asyncio Redis client: the configured one, or the embedded runtime's server."""
    from qrefund.jobs import runtime

    if ctx.settings.redis_url:
        from redis.asyncio import Redis

        return Redis.from_url(ctx.settings.redis_url)
    import fakeredis

    return fakeredis.FakeAsyncRedis(server=runtime.embedded_server())


@strawberry.type
class Subscription:
    @strawberry.subscription(description="Refund case changes for merchants in scope.")
    async def refund_case_updates(
        self, info: Info, merchant_ids: list[strawberry.ID] | None = None, after: str | None = None
    ) -> AsyncGenerator[RefundCaseUpdate, None]:
        ctx = info.context
        scope = ctx.require_scope()
        try:
            scope.require(Permission.SUBSCRIBE)
            tenants = _tenants(scope, merchant_ids)
            cursor = feed.Cursor.parse(after)
        except DomainError as error:
            raise query_error(error) from None
        client = _subscriber(ctx)
        pubsub = client.pubsub()
        try:
            # Subscribe before replaying, so nothing committed in between is missed.
            from qrefund.jobs.registry import events_channel

            await pubsub.subscribe(*[events_channel(t) for t in tenants])
            position = cursor or feed.Cursor()
            if cursor is not None:
                for item in await feed.replay(ctx.db, scope, tenants, "refund_case", cursor):
                    position.advance(item.tenant_id, item.seq)
                    yield await _update(ctx, scope, item, position)
            async for item in feed.live(pubsub, "refund_case."):
                if position.seen(item.tenant_id, item.seq):
                    continue
                position.advance(item.tenant_id, item.seq)
                yield await _update(ctx, scope, item, position)
        finally:
            await pubsub.aclose()
            await client.aclose()
