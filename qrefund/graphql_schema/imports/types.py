"""The TransactionImport node and its error report's link (signed, expiring)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.context import Context, Info
from qrefund.graphql_schema.relay import Node
from qrefund.platform.clock import utcnow
from qrefund.platform.consumer import links
from qrefund.platform.imports import service
from qrefund.platform.imports.models import ImportFormat as DomainFormat
from qrefund.platform.imports.models import ImportStatus, TransactionImport

# The kind byte of import report links (evidence uses U and D, exports X): a link of
# one kind never opens another kind's object.
REPORT_LINK = b"I"
LINK_TTL = timedelta(hours=1)

ImportFormat = strawberry.enum(DomainFormat, name="ImportFormat",
                               description="CSV (UTF-8, header row) or JSONL.")
ImportStatusEnum = strawberry.enum(ImportStatus, name="ImportStatus")


def report_link(tenant_id: uuid.UUID, import_id: uuid.UUID, base_url: str,
                now: datetime) -> str:
    link = links.sign(REPORT_LINK, tenant_id, import_id, expires_at=now + LINK_TTL)
    return f"{base_url.rstrip('/')}/import-reports/{link}"


@strawberry.type(name="TransactionImport", description="A file of one merchant's "
                 "transactions, recorded by a background job; poll `rowsDone`/`rowsTotal` "
                 "until SUCCEEDED or FAILED, then fetch `errorReportUrl`.")
class TransactionImportType(Node):
    merchant_id: strawberry.ID
    format: ImportFormat  # type: ignore[valid-type]
    status: ImportStatusEnum  # type: ignore[valid-type]
    file_name: str | None
    size_bytes: int
    rows_total: int | None = strawberry.field(description="Lines counted at upload until "
                                              "the job ends; then the rows read.")
    rows_done: int
    rows_recorded: int = strawberry.field(description="Rows recorded, or already recorded "
                                          "with the same values (idempotent).")
    rows_failed: int = strawberry.field(description="Rows refused: see the error report.")
    error: str | None = strawberry.field(description="Why the file as a whole failed.")
    requested_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    tenant_id: strawberry.Private[uuid.UUID]
    import_id: strawberry.Private[uuid.UUID]
    report_ready: strawberry.Private[bool]

    @strawberry.field(description="A signed link to the error report (CSV: row, field, "
                      "code, message), valid one hour from this query; null until the "
                      "job has finished.")
    def error_report_url(self, info: Info) -> str | None:
        if not self.report_ready:
            return None
        return report_link(self.tenant_id, self.import_id,
                           info.context.settings.public_base_url, utcnow())

    @classmethod
    def of(cls, r: TransactionImport) -> TransactionImportType:
        return cls(id=ids.encode("TransactionImport", r.tenant_id, r.id),
                   merchant_id=ids.encode("Tenant", r.tenant_id), format=DomainFormat(r.format),
                   status=ImportStatus(r.status), file_name=r.file_name,
                   size_bytes=r.size_bytes, rows_total=r.rows_total, rows_done=r.rows_done,
                   rows_recorded=r.rows_recorded, rows_failed=r.rows_failed, error=r.error,
                   requested_by=r.requested_by, created_at=r.created_at,
                   started_at=r.started_at, finished_at=r.finished_at,
                   tenant_id=r.tenant_id, import_id=r.id,
                   report_ready=r.status in service.FINISHED and r.report_key is not None)


async def transaction_import_node(ctx: Context, parts: list[uuid.UUID]) -> Node | None:
    """node(id) for TransactionImport ids: null when absent or out of scope."""
    if len(parts) != 2:
        return None
    async with ctx.reading() as uow:
        found = await service.find(uow, parts[0], parts[1])
        return TransactionImportType.of(found) if found else None
