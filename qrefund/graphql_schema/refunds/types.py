"""GraphQL types for refund cases, their timeline and evidence.

Plain fields are copied from the row by :meth:`RefundCaseType.of`; related objects
(transaction, timeline, policy, evidence, merchant) resolve through per-request
data loaders, so nesting them in a page costs one statement per relation.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.scalars import JSON

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.context import Context, Info
from qrefund.graphql_schema.loaders import batch_loader, by_loader, tenant_loader
from qrefund.graphql_schema.money import MoneyType
from qrefund.graphql_schema.payouts.types import PayoutType, payouts_of
from qrefund.graphql_schema.policies.types import RefundPolicyType
from qrefund.graphql_schema.refunds import loaders
from qrefund.graphql_schema.relay import Node
from qrefund.graphql_schema.risk.types import AnomalyFlagType, flags_by_case_loader
from qrefund.graphql_schema.tenants.types import TenantType
from qrefund.graphql_schema.transactions.types import TransactionType
from qrefund.graphql_schema.vocabulary import (
    EvidenceType,
    RefundCaseStatus,
    RefundMethod,
    RefundReason,
    RequestChannel,
    RiskFlag,
)
from qrefund.platform import vocabulary as enums
from qrefund.platform.consumer import uploads
from qrefund.platform.db import UnitOfWork
from qrefund.platform.refunds import privacy, queries
from qrefund.platform.refunds import service as refunds
from qrefund.platform.refunds.models import (
    RefundCase,
    RefundCaseEvent,
    RefundEvidence,
)
from qrefund.platform.transactions.models import Transaction

if TYPE_CHECKING:
    from qrefund.graphql_schema.complaints.types import ComplaintTicketType

Key = tuple[uuid.UUID, uuid.UUID]


@strawberry.type(name="RefundCaseEvent", description="One entry of a case's timeline.")
class RefundCaseEventType:
    seq: int
    type: str
    from_status: RefundCaseStatus | None  # type: ignore[valid-type]
    to_status: RefundCaseStatus | None  # type: ignore[valid-type]
    actor: str
    note: str | None
    data: JSON
    occurred_at: datetime

    @classmethod
    def of(cls, e: RefundCaseEvent) -> RefundCaseEventType:
        return cls(
            seq=e.seq, type=e.type, actor=e.actor, note=e.note, data=JSON(e.data),
            from_status=e.from_status, to_status=e.to_status,
            occurred_at=e.occurred_at,
        )


@strawberry.type(name="RefundEvidence", description="Metadata of a file; the bytes are stored "
                 "elsewhere and are not uploaded through this API.")
class RefundEvidenceType:
    type: EvidenceType  # type: ignore[valid-type]
    filename: str
    size: int
    sha256: str
    created_at: datetime
    _tenant_id: strawberry.Private[uuid.UUID]
    _id: strawberry.Private[uuid.UUID]

    @strawberry.field(description="A signed link to the file the consumer uploaded, valid 15 "
                      "minutes (404 when only its description was given).")
    def download_url(self, info: Info) -> str:
        return uploads.download_link(self._tenant_id, self._id,
                                     base_url=info.context.settings.public_base_url)

    @classmethod
    def of(cls, e: RefundEvidence) -> RefundEvidenceType:
        return cls(type=enums.EvidenceType(e.type), filename=e.filename, size=e.size_bytes,
                   sha256=e.sha256, created_at=e.created_at, _tenant_id=e.tenant_id, _id=e.id)


@strawberry.type(name="RefundCase")
class RefundCaseType(Node):
    case_number: str
    status: RefundCaseStatus  # type: ignore[valid-type]
    requested_amount: MoneyType
    approved_amount: MoneyType | None
    reason: RefundReason  # type: ignore[valid-type]
    channel: RequestChannel  # type: ignore[valid-type]
    method: RefundMethod  # type: ignore[valid-type]
    description: str | None
    review_due_at: datetime
    completion_due_at: datetime
    next_due_at: datetime | None = strawberry.field(
        description="The deadline running now (review, then completion); null while paused "
        "in AWAITING_INFO or once closed.")
    review_paused_at: datetime | None
    extension_notice_due_at: datetime | None = strawberry.field(
        description="After an extension: the consumer must be told before this instant.")
    escalation_level: int
    assignee: str | None
    decision_note: str | None
    payout_failure_reason: str | None
    policy_version: int
    risk_flags: list[RiskFlag]  # type: ignore[valid-type]
    merchant_id: strawberry.ID
    transaction_id: strawberry.ID
    created_at: datetime
    updated_at: datetime
    review_started_at: datetime | None
    info_requested_at: datetime | None
    approved_at: datetime | None
    rejected_at: datetime | None
    cancelled_at: datetime | None
    processing_at: datetime | None
    refunded_at: datetime | None
    payout_failed_at: datetime | None
    _row: strawberry.Private[RefundCase]

    @classmethod
    def of(cls, c: RefundCase) -> RefundCaseType:
        # Enum fields get the stored value strings: graphql-core serialises those with a
        # dict look-up, while Strawberry's path for enum members scans every member (it
        # was the largest single cost of a 50-case page).
        return cls(
            id=ids.encode("RefundCase", c.tenant_id, c.id), case_number=c.case_number,
            status=c.status,
            requested_amount=MoneyType.of(c.requested_minor, c.currency),
            approved_amount=(MoneyType.of(c.approved_minor, c.currency)
                             if c.approved_minor is not None else None),
            reason=c.reason, channel=c.channel, method=c.method, description=c.description,
            review_due_at=c.review_due_at, completion_due_at=c.completion_due_at,
            next_due_at=c.next_due_at, review_paused_at=c.review_paused_at,
            extension_notice_due_at=c.extension_notice_due_at,
            escalation_level=c.escalation_level, assignee=c.assignee,
            decision_note=c.decision_note, payout_failure_reason=c.payout_failure_reason,
            policy_version=c.policy_version,
            risk_flags=list(c.risk_flags),
            merchant_id=ids.encode("Tenant", c.tenant_id),
            transaction_id=ids.encode("Transaction", c.tenant_id, c.transaction_id),
            created_at=c.created_at, updated_at=c.updated_at,
            review_started_at=c.review_started_at, info_requested_at=c.info_requested_at,
            approved_at=c.approved_at, rejected_at=c.rejected_at, cancelled_at=c.cancelled_at,
            processing_at=c.processing_at, refunded_at=c.refunded_at,
            payout_failed_at=c.payout_failed_at, _row=c,
        )

    @property
    def _key(self) -> tuple[uuid.UUID, uuid.UUID]:
        return self._row.tenant_id, self._row.id

    @strawberry.field(description="True when the running deadline has passed.")
    def overdue(self) -> bool:
        from qrefund.platform.clock import utcnow

        return self.next_due_at is not None and self.next_due_at < utcnow()

    @strawberry.field
    @by_loader(lambda ctx: transaction_type_loader(ctx),
               lambda case: (case._row.tenant_id, case._row.transaction_id))
    def transaction(self, info: Info) -> TransactionType:
        raise NotImplementedError  # by_loader: a page asks for all its cases' at once

    @strawberry.field(description="The timeline, oldest first.")
    async def events(self, info: Info) -> list[RefundCaseEventType]:
        return [RefundCaseEventType.of(e) for e in await loaders.events_loader(info.context)
                .load(self._key)]

    @strawberry.field(description="The latest timeline entry.")
    @by_loader(lambda ctx: last_event_type_loader(ctx), lambda case: case._key)
    def last_event(self, info: Info) -> RefundCaseEventType | None:
        raise NotImplementedError  # by_loader

    @strawberry.field
    async def evidence(self, info: Info) -> list[RefundEvidenceType]:
        return [RefundEvidenceType.of(e) for e in await loaders.evidence_loader(info.context)
                .load(self._key)]

    @strawberry.field(description="The policy version the case is judged under.")
    async def policy(self, info: Info) -> RefundPolicyType:
        row = self._row
        version = None
        if row.policy_id is not None and row.policy_tenant_id is not None:
            version = await loaders.policy_loader(info.context).load(
                (row.tenant_id, row.policy_tenant_id, row.policy_id))
        return RefundPolicyType.of(refunds.judged_terms(row, version))

    @strawberry.field
    async def merchant(self, info: Info) -> TenantType:
        tenant = await tenant_loader(info.context).load(self._row.tenant_id)
        assert tenant is not None
        return TenantType.of(tenant)

    @strawberry.field(description="Payout attempts, oldest first.")
    async def payouts(self, info: Info) -> list[PayoutType]:
        return await payouts_of(info.context, self._key)

    @strawberry.field(description="The consumer's phone, masked.")
    def contact_phone_masked(self) -> str | None:
        return privacy.contact_phone(self._row)

    @strawberry.field(description="The consumer's e-mail, masked.")
    def contact_email_masked(self) -> str | None:
        return privacy.contact_email(self._row)

    @strawberry.field(description="Where a bank transfer goes, masked.")
    def bank_destination_masked(self) -> str | None:
        return privacy.bank_destination(self._row)

    @strawberry.field(description="Anomaly flags on this case, oldest first (why it was held "
                      "back from auto-approval).")
    def flags(self, info: Info) -> list[AnomalyFlagType]:
        return flags_by_case_loader(info.context).load(self._key)  # type: ignore[return-value]

    @strawberry.field(description="Complaint tickets about this case, oldest first.")
    def complaints(
        self, info: Info
    ) -> list[Annotated[ComplaintTicketType,
                        strawberry.lazy("qrefund.graphql_schema.complaints.types")]]:
        # Provided by the complaints package, wired by name in schema.py: it sits above
        # this one (a ticket shows its refund case) and this package must not import it.
        loader = info.context.related("complaint_ticket_types_by_case")
        return loader.load(self._key)  # type: ignore[no-any-return]



# Loaders that hand back GraphQL objects, not rows: resolvers of a 50-case page return
# their futures from plain functions (no coroutine per case).


def transaction_type_loader(ctx: Context) -> DataLoader[Key, TransactionType | None]:
    async def fetch(uow: UnitOfWork, keys: Sequence[Key]) -> dict[Key, TransactionType]:
        rows = await queries.transactions_by_key(uow, keys)
        return {k: TransactionType.of(t) for k, t in rows.items()}

    return batch_loader(ctx, "transaction_type_by_id", fetch, lambda: None)


def case_with_payment_loader(ctx: Context) -> DataLoader[Key, RefundCase | None]:
    """Cases by key, each read with its payment, which goes to the loader of
    ``RefundCase.transaction`` (``node(id)``: one statement for a case and its payment)."""
    async def fetch(uow: UnitOfWork, keys: Sequence[Key]) -> dict[Key, RefundCase]:
        rows = await queries.cases_with_payments(uow, keys)
        prime_payments(ctx, {(t.tenant_id, t.id): t for _c, t in rows.values() if t})
        return {k: case for k, (case, _t) in rows.items()}

    return batch_loader(ctx, "refund_case_with_payment", fetch, lambda: None)


def prime_payments(ctx: Context, payments: Mapping[Key, Transaction]) -> None:
    """Hand payments read with other rows (a page of cases or complaint tickets, a case
    by id), by (merchant, id), to the loader ``transaction`` fields ask, which then runs
    no statement for them."""
    if payments:
        transaction_type_loader(ctx).prime_many(
            {k: TransactionType.of(t) for k, t in payments.items()})


def prime_case_relations(ctx: Context, page: queries.CasePage) -> None:
    """:func:`prime_payments`, and the latest entries read with a page of cases for the
    loader of ``RefundCase.lastEvent``."""
    prime_payments(ctx, page.transactions)
    if page.last_events:
        last_event_type_loader(ctx).prime_many(
            {k: RefundCaseEventType.of(e) for k, e in page.last_events.items()})


def last_event_type_loader(ctx: Context) -> DataLoader[Key, RefundCaseEventType | None]:
    async def fetch(uow: UnitOfWork, keys: Sequence[Key]) -> dict[Key, RefundCaseEventType]:
        rows = await queries.last_event_by_case(uow, keys)
        return {k: RefundCaseEventType.of(e) for k, e in rows.items()}

    return batch_loader(ctx, "refund_case_last_event_type", fetch, lambda: None)


def case_types_by_transaction_loader(ctx: Context) -> DataLoader[Key, list[RefundCaseType]]:
    """``Transaction.refundCases``, wired by name in ``schema.py`` (RELATED_LOADERS): the
    transactions package must not import this one."""
    async def fetch(uow: UnitOfWork, keys: Sequence[Key]) -> dict[Key, list[RefundCaseType]]:
        rows = await queries.cases_by_transaction(uow, keys)
        return {k: [RefundCaseType.of(c) for c in cases] for k, cases in rows.items()}

    return batch_loader(ctx, "refund_case_types_by_transaction", fetch, list)
