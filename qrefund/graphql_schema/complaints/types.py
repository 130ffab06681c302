"""GraphQL types for complaint tickets, their thread, timeline and attachments.

Plain fields are copied from the row by :meth:`ComplaintTicketType.of`; related objects
resolve through per-request data loaders, so nesting them in a page costs one
statement per relation. What a caller may see of the thread and timeline (internal
notes) is decided by the domain's queries, not here.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.scalars import JSON

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.complaints import loaders
from qrefund.graphql_schema.complaints.vocabulary import (
    ComplaintAuthorKind,
    ComplaintCategory,
    ComplaintPriority,
    ComplaintResolution,
    ComplaintStatus,
)
from qrefund.graphql_schema.context import Context, Info
from qrefund.graphql_schema.loaders import batch_loader, tenant_loader
from qrefund.graphql_schema.refunds.loaders import case_loader
from qrefund.graphql_schema.refunds.types import RefundCaseType, transaction_type_loader
from qrefund.graphql_schema.relay import Node
from qrefund.graphql_schema.tenants.types import TenantType
from qrefund.graphql_schema.transactions.types import TransactionType
from qrefund.graphql_schema.vocabulary import EvidenceType, RequestChannel
from qrefund.platform import vocabulary as enums
from qrefund.platform.clock import utcnow
from qrefund.platform.complaints import privacy, queries
from qrefund.platform.complaints.models import (
    ComplaintAttachment,
    ComplaintEvent,
    ComplaintMessage,
    ComplaintTicket,
)
from qrefund.platform.db import UnitOfWork

Key = tuple[uuid.UUID, uuid.UUID]


@strawberry.type(name="ComplaintMessage", description="One message of a ticket's thread. "
                 "Internal notes are shown only to staff roles allowed to read them.")
class ComplaintMessageType:
    body: str
    internal: bool
    author: str
    author_kind: ComplaintAuthorKind  # type: ignore[valid-type]
    created_at: datetime

    @classmethod
    def of(cls, m: ComplaintMessage) -> ComplaintMessageType:
        return cls(body=m.body, internal=m.internal, author=m.author, author_kind=m.author_kind,
                   created_at=m.created_at)


@strawberry.type(name="ComplaintEvent", description="One entry of a ticket's timeline.")
class ComplaintEventType:
    seq: int
    type: str
    from_status: ComplaintStatus | None  # type: ignore[valid-type]
    to_status: ComplaintStatus | None  # type: ignore[valid-type]
    actor: str
    note: str | None
    data: JSON
    occurred_at: datetime

    @classmethod
    def of(cls, e: ComplaintEvent) -> ComplaintEventType:
        return cls(seq=e.seq, type=e.type, from_status=e.from_status, to_status=e.to_status,
                   actor=e.actor, note=e.note, data=JSON(e.data), occurred_at=e.occurred_at)


@strawberry.type(name="ComplaintAttachment", description="Metadata of a file the consumer "
                 "attached; the bytes are stored elsewhere.")
class ComplaintAttachmentType:
    type: EvidenceType  # type: ignore[valid-type]
    filename: str
    size: int
    sha256: str
    created_at: datetime

    @classmethod
    def of(cls, a: ComplaintAttachment) -> ComplaintAttachmentType:
        return cls(type=enums.EvidenceType(a.type), filename=a.filename, size=a.size_bytes,
                   sha256=a.sha256, created_at=a.created_at)


@strawberry.type(name="ComplaintTicket")
class ComplaintTicketType(Node):
    ticket_number: str
    status: ComplaintStatus  # type: ignore[valid-type]
    priority: ComplaintPriority  # type: ignore[valid-type]
    category: ComplaintCategory  # type: ignore[valid-type]
    description: str
    channel: RequestChannel  # type: ignore[valid-type]
    assignee: str | None
    team: str | None = strawberry.field(description="The team or queue the ticket is with.")
    first_response_due_at: datetime | None
    resolution_due_at: datetime | None
    first_responded_at: datetime | None
    next_due_at: datetime | None = strawberry.field(
        description="The earliest running deadline; null while waiting for the customer or "
        "once resolved.")
    waiting_since: datetime | None
    escalation_level: int
    is_repeat: bool = strawberry.field(description="A repeat complaint (same payment, or the "
                                       "same contact at the merchant within 30 days).")
    resolution: ComplaintResolution | None  # type: ignore[valid-type]
    resolution_note: str | None
    rating: int | None
    rating_comment: str | None
    rated_at: datetime | None
    reopen_count: int
    policy_version: int
    merchant_id: strawberry.ID
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None
    reopened_at: datetime | None
    auto_close_at: datetime | None
    _row: strawberry.Private[ComplaintTicket]

    @classmethod
    def of(cls, t: ComplaintTicket) -> ComplaintTicketType:
        return cls(
            id=ids.encode("ComplaintTicket", t.tenant_id, t.id), ticket_number=t.ticket_number,
            status=t.status, priority=t.priority, category=t.category,
            description=t.description, channel=t.channel, assignee=t.assignee, team=t.team,
            first_response_due_at=t.first_response_due_at, resolution_due_at=t.resolution_due_at,
            first_responded_at=t.first_responded_at, next_due_at=t.next_due_at,
            waiting_since=t.waiting_since, escalation_level=t.escalation_level,
            is_repeat=t.repeat_of_id is not None, resolution=t.resolution,
            resolution_note=t.resolution_note, rating=t.rating, rating_comment=t.rating_comment,
            rated_at=t.rated_at, reopen_count=t.reopen_count, policy_version=t.policy_version,
            merchant_id=ids.encode("Tenant", t.tenant_id), created_at=t.created_at,
            updated_at=t.updated_at, resolved_at=t.resolved_at, closed_at=t.closed_at,
            reopened_at=t.reopened_at, auto_close_at=t.auto_close_at, _row=t,
        )

    @property
    def _key(self) -> Key:
        return self._row.tenant_id, self._row.id

    @strawberry.field(description="True when a running deadline has passed.")
    def overdue(self) -> bool:
        return self.next_due_at is not None and self.next_due_at < utcnow()

    @strawberry.field(description="Why the priority was overridden (staff who may read "
                      "internal notes only).")
    def priority_reason(self, info: Info) -> str | None:
        scope = info.context.require_scope()
        if info.context.withhold_internal_notes or not queries.sees_notes(scope):
            return None
        return self._row.priority_reason

    @strawberry.field(description="The refund case complained about, if one was named.")
    async def refund_case(self, info: Info) -> RefundCaseType | None:
        return await _case(info.context, self._row.tenant_id, self._row.refund_case_id)

    @strawberry.field(description="The refund case opened when the ticket was resolved.")
    async def follow_up_refund_case(self, info: Info) -> RefundCaseType | None:
        return await _case(info.context, self._row.tenant_id, self._row.follow_up_case_id)

    @strawberry.field(description="The payment complained about.")
    def transaction(self, info: Info) -> TransactionType | None:
        return transaction_type_loader(info.context).load(  # type: ignore[return-value]
            (self._row.tenant_id, self._row.transaction_id))

    @strawberry.field(description="The earlier ticket this one repeats.")
    async def repeat_of(self, info: Info) -> ComplaintTicketType | None:
        if self._row.repeat_of_id is None:
            return None
        found = await loaders.ticket_loader(info.context).load(
            (self._row.tenant_id, self._row.repeat_of_id))
        return ComplaintTicketType.of(found) if found else None

    @strawberry.field
    async def merchant(self, info: Info) -> TenantType:
        tenant = await tenant_loader(info.context).load(self._row.tenant_id)
        assert tenant is not None
        return TenantType.of(tenant)

    @strawberry.field(description="The thread, oldest first (internal notes for staff only).")
    async def messages(self, info: Info) -> list[ComplaintMessageType]:
        return [ComplaintMessageType.of(m)
                for m in await loaders.messages_loader(info.context).load(self._key)]

    @strawberry.field(description="The timeline, oldest first (staff-only entries for staff "
                      "who may read internal notes).")
    async def events(self, info: Info) -> list[ComplaintEventType]:
        return [ComplaintEventType.of(e)
                for e in await loaders.events_loader(info.context).load(self._key)]

    @strawberry.field
    async def attachments(self, info: Info) -> list[ComplaintAttachmentType]:
        return [ComplaintAttachmentType.of(a)
                for a in await loaders.attachments_loader(info.context).load(self._key)]

    @strawberry.field(description="The consumer's phone, masked.")
    def contact_phone_masked(self) -> str | None:
        return privacy.contact_phone(self._row)

    @strawberry.field(description="The consumer's e-mail, masked.")
    def contact_email_masked(self) -> str | None:
        return privacy.contact_email(self._row)


async def _case(ctx: Context, tenant_id: uuid.UUID, case_id: uuid.UUID | None
                ) -> RefundCaseType | None:
    if case_id is None:
        return None
    case = await case_loader(ctx).load((tenant_id, case_id))
    return RefundCaseType.of(case) if case else None


# ``RefundCase.complaints`` and ``Transaction.complaints``, wired by name in schema.py
# (RELATED_LOADERS): those packages sit below this one and must not import it.


def ticket_types_by_case_loader(ctx: Context) -> DataLoader[Key, list[ComplaintTicketType]]:
    async def fetch(uow: UnitOfWork, keys: Sequence[Key]) -> dict[Key, list[ComplaintTicketType]]:
        rows = await queries.tickets_by_case(uow, keys)
        return {k: [ComplaintTicketType.of(t) for t in tickets] for k, tickets in rows.items()}

    return batch_loader(ctx, "complaint_ticket_types_by_case", fetch, list)


def ticket_types_by_transaction_loader(ctx: Context
                                       ) -> DataLoader[Key, list[ComplaintTicketType]]:
    async def fetch(uow: UnitOfWork, keys: Sequence[Key]) -> dict[Key, list[ComplaintTicketType]]:
        rows = await queries.tickets_by_transaction(uow, keys)
        return {k: [ComplaintTicketType.of(t) for t in tickets] for k, tickets in rows.items()}

    return batch_loader(ctx, "complaint_ticket_types_by_transaction", fetch, list)
