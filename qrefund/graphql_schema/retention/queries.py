"""archivedRecord(id): a refund case or complaint ticket that retention moved to the archive.

The subject keeps its global id: a client that gets null from ``node(id)`` for an old
case asks here with the same id. Ciphertexts, blind indexes and storage keys are left
out of the document (the archive row keeps them).
"""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.context import Info
from qrefund.graphql_schema.errors import query_error
from qrefund.platform.errors import DomainError, NotFound
from qrefund.platform.retention import service

ARCHIVED_TYPES = ("RefundCase", "ComplaintTicket")


@strawberry.type(name="ArchivedRecord", description="An archived refund case or complaint "
                 "ticket with the rows that hung off it (events, payouts, messages ...).")
class ArchivedRecordType:
    id: strawberry.ID = strawberry.field(description="The subject's own global id.")
    subject_type: str = strawberry.field(description="RefundCase or ComplaintTicket.")
    number: str = strawberry.field(description="The case or ticket number.")
    status: str
    merchant_id: strawberry.ID
    closed_at: datetime
    archived_at: datetime
    document: JSON = strawberry.field(description="Rows by table name, as they were when "
                                      "archived (column names as stored).")


@strawberry.type
class RetentionQueries:
    @strawberry.field(description="A refund case or complaint ticket moved to the archive "
                      "by retention (QREFUND_RETENTION_DAYS), by its own global id; null when "
                      "it is not archived or not yours.")
    async def archived_record(self, info: Info, id: strawberry.ID) -> ArchivedRecordType | None:
        info.context.require_scope()
        try:
            kind, parts = ids.decode_any(id)
        except NotFound:
            return None
        if kind not in ARCHIVED_TYPES or len(parts) != 2:
            return None
        try:
            async with info.context.reading() as uow:
                record = await service.find(uow, parts[0], kind, parts[1])
        except DomainError as error:
            raise query_error(error) from None
        if record is None:
            return None
        return ArchivedRecordType(
            id=id, subject_type=record.subject_type, number=record.number,
            status=record.status, merchant_id=ids.encode("Tenant", record.tenant_id),
            closed_at=record.closed_at, archived_at=record.archived_at,
            document=JSON(service.public_document(record)))
