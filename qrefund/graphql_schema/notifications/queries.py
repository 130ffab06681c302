"""notifications(caseId): every message sent (or tried) to the consumer of a case."""

from __future__ import annotations

import uuid

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.context import Context, Info
from qrefund.graphql_schema.errors import query_error
from qrefund.graphql_schema.notifications.types import NotificationType
from qrefund.graphql_schema.relay import Connection, Node
from qrefund.platform.errors import DomainError
from qrefund.platform.notifications import service
from qrefund.platform.pagination import page_size


@strawberry.type
class NotificationQueries:
    @strawberry.field(description="Messages to the consumer of one refund case, oldest first.")
    async def notifications(
        self, info: Info, case_id: strawberry.ID, first: int | None = None,
        after: str | None = None,
    ) -> Connection[NotificationType]:
        ctx = info.context
        try:
            size = page_size(first, default=ctx.settings.default_page_size,
                             maximum=ctx.settings.max_page_size)
            tenant_id, case = ids.scoped_id(case_id, "RefundCase", "caseId")
            async with ctx.reading() as uow:
                page = await service.list_for_case(uow, tenant_id, case, first=size, after=after)
        except DomainError as error:
            raise query_error(error) from None
        return Connection[NotificationType].build(
            page, [NotificationType.of(n) for n in page.items], None)


async def notification_node(ctx: Context, parts: list[uuid.UUID]) -> Node | None:
    if len(parts) != 2:
        return None
    async with ctx.reading() as uow:
        found = await service.get(uow, parts[0], parts[1])
    # (a message about another subject than a refund case is not a Notification here)
    return NotificationType.of(found) if found and found.case_id else None

