"""exportRefundCases, exportTransactions: ask for a file; a job writes it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.context import Info
from qrefund.graphql_schema.errors import UserError
from qrefund.graphql_schema.exports.types import ExportFormat, ExportType
from qrefund.graphql_schema.transactions.types import PaymentChannel, TransactionStatus
from qrefund.graphql_schema.vocabulary import RefundCaseStatus, RefundReason, RequestChannel
from qrefund.platform.db import UnitOfWork
from qrefund.platform.exports import service
from qrefund.platform.exports.models import ExportFormat as DomainFormat
from qrefund.platform.exports.models import ExportKind


@strawberry.input(description="Which refund cases: all of the period when empty.")
class RefundCaseExportFilter:
    statuses: list[RefundCaseStatus] | None = None  # type: ignore[valid-type]
    reasons: list[RefundReason] | None = None  # type: ignore[valid-type]
    channels: list[RequestChannel] | None = None  # type: ignore[valid-type]


@strawberry.input(description="Which transactions: all of the period when empty.")
class TransactionExportFilter:
    statuses: list[TransactionStatus] | None = None  # type: ignore[valid-type]
    channels: list[PaymentChannel] | None = None  # type: ignore[valid-type]


@strawberry.input(description="Refund cases created in [from, to), at most 366 days.")
class ExportRefundCasesInput:
    merchant_ids: list[strawberry.ID] | None = None
    from_: datetime = strawberry.field(name="from")
    to: datetime
    format: ExportFormat  # type: ignore[valid-type]
    filter: RefundCaseExportFilter | None = None


@strawberry.input(description="Transactions paid in [from, to), at most 366 days.")
class ExportTransactionsInput:
    merchant_ids: list[strawberry.ID] | None = None
    from_: datetime = strawberry.field(name="from")
    to: datetime
    format: ExportFormat  # type: ignore[valid-type]
    filter: TransactionExportFilter | None = None


@strawberry.type
class ExportRefundCasesPayload:
    export: ExportType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ExportTransactionsPayload:
    export: ExportType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


def _values(items: list[Any] | None) -> list[str]:
    return sorted({getattr(i, "value", i) for i in items or ()})


def _filters(flt: Any, names: tuple[str, ...]) -> dict[str, list[str]]:
    if flt is None:
        return {}
    return {n: _values(getattr(flt, n)) for n in names if getattr(flt, n)}


async def _request(info: Info, payload: type, kind: ExportKind, data: Any,
                   names: tuple[str, ...]) -> Any:
    async def work(uow: UnitOfWork) -> Any:
        merchants = [ids.tenant_id_of(m, "merchantIds") for m in data.merchant_ids or ()]
        export = await service.request(uow, service.RequestExport(
            kind=kind, format=DomainFormat(getattr(data.format, "value", data.format)),
            period_from=data.from_, period_to=data.to, merchant_ids=merchants or None,
            filters=_filters(data.filter, names)))
        return payload(export=ExportType.of(export))

    return await info.context.mutate(work, lambda errors: payload(user_errors=errors))


@strawberry.type
class ExportMutations:
    @strawberry.mutation(description="Write the refund cases of a period to a file (READ "
                         "permission; the merchants named, or all in the key's scope). "
                         "Follow it with export(id); download from downloadUrl.")
    async def export_refund_cases(self, info: Info, input: ExportRefundCasesInput
                                  ) -> ExportRefundCasesPayload:
        return await _request(info, ExportRefundCasesPayload,  # type: ignore[no-any-return]
                              ExportKind.REFUND_CASES, input,
                              ("statuses", "reasons", "channels"))

    @strawberry.mutation(description="Write the transactions of a period to a file (READ "
                         "permission; the merchants named, or all in the key's scope).")
    async def export_transactions(self, info: Info, input: ExportTransactionsInput
                                  ) -> ExportTransactionsPayload:
        return await _request(info, ExportTransactionsPayload,  # type: ignore[no-any-return]
                              ExportKind.TRANSACTIONS, input, ("statuses", "channels"))
