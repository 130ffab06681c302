"""transactionImport(id) and transactionImports(merchantIds): imports in scope."""

from __future__ import annotations

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.context import Info
from qrefund.graphql_schema.errors import query_error
from qrefund.graphql_schema.imports.types import TransactionImportType, transaction_import_node
from qrefund.graphql_schema.relay import Connection
from qrefund.platform.errors import DomainError, NotFound
from qrefund.platform.imports import service
from qrefund.platform.pagination import page_size


@strawberry.type
class ImportQueries:
    @strawberry.field(description="An import by id: status, counts, errorReportUrl (null "
                      "when absent or out of scope).")
    async def transaction_import(self, info: Info, id: strawberry.ID
                                 ) -> TransactionImportType | None:
        info.context.require_scope()
        try:
            parts = ids.decode(id, "TransactionImport")
        except NotFound:
            return None
        return await transaction_import_node(info.context, parts)  # type: ignore[return-value]

    @strawberry.field(description="Imports of the merchants named (or all in the key's "
                      "scope), newest first.")
    async def transaction_imports(
        self, info: Info, merchant_ids: list[strawberry.ID] | None = None,
        first: int | None = None, after: str | None = None,
    ) -> Connection[TransactionImportType]:
        ctx = info.context
        try:
            size = page_size(first, default=ctx.settings.default_page_size,
                             maximum=ctx.settings.max_page_size)
            merchants = [ids.tenant_id_of(m, "merchantIds") for m in merchant_ids or ()]
            async with ctx.reading() as uow:
                page = await service.list_page(uow, merchants or None, first=size, after=after)
        except DomainError as error:
            raise query_error(error) from None
        return Connection[TransactionImportType].build(
            page, [TransactionImportType.of(r) for r in page.items], None)
