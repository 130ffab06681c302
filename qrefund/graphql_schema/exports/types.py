"""The Export node and its download link (signed, expiring; made when asked for)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.context import Context, Info
from qrefund.graphql_schema.relay import Node
from qrefund.platform.clock import utcnow
from qrefund.platform.consumer import links
from qrefund.platform.exports import service
from qrefund.platform.exports.models import Export, ExportStatus
from qrefund.platform.exports.models import ExportFormat as DomainFormat
from qrefund.platform.exports.models import ExportKind as DomainKind

# The kind byte of export links (evidence uses U and D): a link of one kind never
# opens another kind's object.
EXPORT_LINK = b"X"
LINK_TTL = timedelta(hours=1)


ExportFormat = strawberry.enum(DomainFormat, name="ExportFormat",
                              description="CSV (UTF-8 with BOM, header row) or JSONL.")
ExportKind = strawberry.enum(DomainKind, name="ExportKind")
ExportStatusEnum = strawberry.enum(ExportStatus, name="ExportStatus")


def download_link(tenant_id: uuid.UUID, export_id: uuid.UUID, base_url: str,
                  now: datetime) -> tuple[str, datetime]:
    expires = now + LINK_TTL
    link = links.sign(EXPORT_LINK, tenant_id, export_id, expires_at=expires)
    return f"{base_url.rstrip('/')}/exports/{link}", expires


@strawberry.type(name="Export", description="A file of refund cases or transactions, written "
                 "by a background job; poll `rowsDone`/`rowsTotal` until SUCCEEDED.")
class ExportType(Node):
    kind: ExportKind  # type: ignore[valid-type]
    format: ExportFormat  # type: ignore[valid-type]
    status: ExportStatusEnum  # type: ignore[valid-type]
    merchant_ids: list[strawberry.ID]
    from_: datetime = strawberry.field(name="from")
    to: datetime
    rows_done: int
    rows_total: int | None = strawberry.field(description="Rows the file will hold (known "
                                              "once the job starts).")
    size_bytes: int | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    tenant_id: strawberry.Private[uuid.UUID]
    export_id: strawberry.Private[uuid.UUID]

    @strawberry.field(description="A signed link to the file, valid one hour from this "
                      "query (ask again for a fresh one); null until SUCCEEDED.")
    def download_url(self, info: Info) -> str | None:
        if self.status != ExportStatus.SUCCEEDED:
            return None
        url, _ = download_link(self.tenant_id, self.export_id,
                               info.context.settings.public_base_url, utcnow())
        return url

    @classmethod
    def of(cls, e: Export) -> ExportType:
        return cls(id=ids.encode("Export", e.tenant_id, e.id), kind=DomainKind(e.kind),
                   format=DomainFormat(e.format), status=ExportStatus(e.status),
                   merchant_ids=[ids.encode("Tenant", uuid.UUID(m)) for m in e.merchant_ids],
                   from_=e.period_from, to=e.period_to, rows_done=e.rows_done,
                   rows_total=e.rows_total, size_bytes=e.size_bytes, error=e.error,
                   created_at=e.created_at, finished_at=e.finished_at,
                   tenant_id=e.tenant_id, export_id=e.id)


async def export_node(ctx: Context, parts: list[uuid.UUID]) -> Node | None:
    """node(id) for Export ids: null when absent or out of scope."""
    if len(parts) != 2:
        return None
    async with ctx.reading() as uow:
        found = await service.find(uow, parts[0], parts[1])
        return ExportType.of(found) if found else None


__all__ = ["ExportStatus", "ExportType", "export_node"]
