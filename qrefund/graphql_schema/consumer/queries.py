"""``receipt(token)``: public, null for an unknown, revoked or expired receipt."""

from __future__ import annotations

import strawberry

from qrefund.graphql_schema.consumer.access import receipt_scope_unit
from qrefund.graphql_schema.consumer.types import Receipt
from qrefund.graphql_schema.context import Info
from qrefund.graphql_schema.errors import query_error
from qrefund.platform.consumer import service
from qrefund.platform.errors import DomainError, NotFound


@strawberry.type
class ConsumerQueries:
    @strawberry.field(description="Public (no key): the payment a receipt token names, the "
                      "merchant's refund policy and the consumer's own cases and complaints; "
                      "null for an unknown, revoked or expired token (all alike). locale: "
                      "zh-CN (default) or en.")
    async def receipt(self, info: Info, token: str, locale: str | None = None
                      ) -> Receipt | None:
        try:
            async with receipt_scope_unit(info, token, readonly=True) as uow:
                view = await service.receipt(uow, token, locale=locale)
        except NotFound:
            return None
        except DomainError as error:
            raise query_error(error) from None
        return Receipt.of(view, info.context.settings.public_base_url)
