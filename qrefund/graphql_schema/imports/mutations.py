"""importTransactions: upload a CSV or JSONL file (GraphQL multipart request); a job
records its rows."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.file_uploads import Upload

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.context import Info
from qrefund.graphql_schema.errors import UserError
from qrefund.graphql_schema.imports.types import ImportFormat, TransactionImportType
from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import InvalidInput
from qrefund.platform.imports import service
from qrefund.platform.imports.models import ImportFormat as DomainFormat


@strawberry.input(description="One merchant's transactions: `file` is the multipart "
                  "request's file part (GraphQL multipart request specification).")
class ImportTransactionsInput:
    merchant_id: strawberry.ID | None = strawberry.field(
        default=None, description="The merchant the rows go to (agency and operator keys).")
    format: ImportFormat | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Default: by the file's name (.csv, .jsonl, .ndjson).")
    file: Upload


@strawberry.type
class ImportTransactionsPayload:
    transaction_import: TransactionImportType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


def _source(upload: Any) -> tuple[Any, str | None]:
    """The upload's file object and name (Starlette's UploadFile)."""
    file = getattr(upload, "file", None)
    if file is None or not hasattr(file, "read"):
        raise InvalidInput("file must be a file part of a multipart request", field=["file"])
    return file, getattr(upload, "filename", None)


@strawberry.type
class ImportMutations:
    @strawberry.mutation(description="Record a reconciliation file's transactions in the "
                         "background (ADMIN or INTEGRATION keys): idempotent per merchant "
                         "order number; follow it with transactionImport(id).")
    async def import_transactions(self, info: Info, input: ImportTransactionsInput
                                  ) -> ImportTransactionsPayload:
        ctx = info.context

        async def work(uow: UnitOfWork) -> ImportTransactionsPayload:
            source, name = _source(input.file)
            merchant = ids.tenant_id_of(input.merchant_id, "merchantId") \
                if input.merchant_id else None
            fmt = DomainFormat(input.format.value) if input.format else None
            record = await service.request(
                uow, service.RequestImport(merchant_id=merchant, format=fmt, file_name=name,
                                           source=source),
                root=ctx.settings.export_dir, max_bytes=ctx.settings.max_import_bytes)
            return ImportTransactionsPayload(
                transaction_import=TransactionImportType.of(record))

        try:
            return await ctx.mutate(work, lambda e: ImportTransactionsPayload(user_errors=e))
        finally:
            close = getattr(input.file, "close", None)
            if close is not None:
                await close()
