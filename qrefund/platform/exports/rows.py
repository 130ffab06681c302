"""What an export file holds: its columns, and its rows read in keyset-paged batches
through the domains' own list queries (the same filters and tenancy wall as the
``transactions`` and ``refundCases`` lists), one merchant at a time.

Values are text as a spreadsheet should show them: amounts as decimal strings in the
currency's minor-unit precision (``12.50`` CNY, ``1200`` JPY), datetimes ISO 8601
with their UTC offset, nothing personal but the payer's masked account (encrypted
contacts, bank destinations and free-text descriptions are left out: they may hold
personal data the export's reader should not get in bulk).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from qrefund.platform.db import UnitOfWork
from qrefund.platform.exports.models import Export, ExportFormat, ExportKind
from qrefund.platform.money import Money
from qrefund.platform.refunds import queries as cases
from qrefund.platform.refunds.models import RefundCase
from qrefund.platform.refunds.queries import CaseFilter, CaseOrder
from qrefund.platform.transactions import service as transactions
from qrefund.platform.transactions.models import PaymentChannel, Transaction, TransactionStatus
from qrefund.platform.transactions.service import TransactionFilter
from qrefund.platform.vocabulary import RefundCaseStatus, RefundReason, RequestChannel

Row = dict[str, Any]

TRANSACTION_COLUMNS = (
    "merchant_id", "transaction_id", "merchant_order_no", "channel", "provider_reference",
    "store_id", "terminal_id", "amount", "refunded_amount", "currency", "status", "paid_at",
    "payer_masked", "created_at",
)
REFUND_CASE_COLUMNS = (
    "merchant_id", "case_id", "case_number", "transaction_id", "merchant_order_no", "status",
    "reason", "channel", "method", "requested_amount", "approved_amount", "currency",
    "escalation_level", "policy_version", "created_at", "review_due_at", "completion_due_at",
    "approved_at", "refunded_at", "payer_masked",
)


@dataclass(frozen=True)
class Spec:
    """What one export reads, detached from its record (the job reads it once, then
    works through many units)."""

    tenant_id: uuid.UUID
    id: uuid.UUID
    kind: ExportKind
    format: ExportFormat
    merchant_ids: tuple[uuid.UUID, ...]
    period_from: datetime
    period_to: datetime
    filters: dict[str, list[str]]

    @classmethod
    def of(cls, export: Export) -> Spec:
        return cls(export.tenant_id, export.id, ExportKind(export.kind),
                   ExportFormat(export.format), tuple(uuid.UUID(m) for m in export.merchant_ids),
                   export.period_from, export.period_to,
                   {k: list(v) for k, v in export.filters.items()})


def columns(kind: ExportKind) -> tuple[str, ...]:
    return REFUND_CASE_COLUMNS if kind == ExportKind.REFUND_CASES else TRANSACTION_COLUMNS


def _amount(minor: int | None, currency: str) -> str | None:
    return None if minor is None else str(Money(minor, currency).decimal)


def _when(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def transaction_filter(export: Spec, merchant_id: uuid.UUID) -> TransactionFilter:
    f = export.filters
    return TransactionFilter(
        merchant_ids=[merchant_id], paid_from=export.period_from, paid_to=export.period_to,
        statuses=[TransactionStatus(s) for s in f.get("statuses", [])] or None,
        channels=[PaymentChannel(c) for c in f.get("channels", [])] or None)


def case_filter(export: Spec, merchant_id: uuid.UUID) -> CaseFilter:
    f = export.filters
    return CaseFilter(
        merchant_ids=[merchant_id], created_from=export.period_from,
        created_to=export.period_to,
        statuses=[RefundCaseStatus(s) for s in f.get("statuses", [])] or None,
        reasons=[RefundReason(r) for r in f.get("reasons", [])] or None,
        channels=[RequestChannel(c) for c in f.get("channels", [])] or None)


async def count(uow: UnitOfWork, export: Spec, merchant_id: uuid.UUID) -> int:
    if export.kind == ExportKind.REFUND_CASES:
        return await cases.count(uow, case_filter(export, merchant_id))
    return await transactions.count(uow, transaction_filter(export, merchant_id))


async def batch(uow: UnitOfWork, export: Spec, merchant_id: uuid.UUID, *, after: str | None,
                size: int) -> tuple[list[Row], str | None]:
    """Up to ``size`` rows past the cursor ``after``, and the cursor of the next batch
    (None after the last)."""
    if export.kind == ExportKind.REFUND_CASES:
        page = await cases.list_page(uow, case_filter(export, merchant_id),
                                     order=CaseOrder.CREATED_DESC, first=size, after=after)
        found = await _case_rows(uow, page.items)
    else:
        txn_page = await transactions.list_page(uow, transaction_filter(export, merchant_id),
                                                first=size, after=after)
        page = txn_page  # type: ignore[assignment]
        found = [transaction_row(t) for t in txn_page.items]
    following = page.cursors[-1] if page.has_next_page and page.cursors else None
    return found, following


def transaction_row(t: Transaction) -> Row:
    return {
        "merchant_id": str(t.tenant_id), "transaction_id": str(t.id),
        "merchant_order_no": t.merchant_order_no, "channel": t.channel,
        "provider_reference": t.provider_reference, "store_id": t.store_id,
        "terminal_id": t.terminal_id, "amount": _amount(t.amount_minor, t.currency),
        "refunded_amount": _amount(t.refunded_minor, t.currency), "currency": t.currency,
        "status": t.status, "paid_at": _when(t.paid_at), "payer_masked": t.payer_masked,
        "created_at": _when(t.created_at),
    }


async def _case_rows(uow: UnitOfWork, found: Sequence[RefundCase]) -> list[Row]:
    # One read for the batch's payments (order number, masked payer), not one per case.
    payments = await cases.transactions_by_key(
        uow, sorted({(c.tenant_id, c.transaction_id) for c in found}))
    return [case_row(c, payments.get((c.tenant_id, c.transaction_id))) for c in found]


def case_row(c: RefundCase, txn: Transaction | None) -> Row:
    return {
        "merchant_id": str(c.tenant_id), "case_id": str(c.id), "case_number": c.case_number,
        "transaction_id": str(c.transaction_id),
        "merchant_order_no": txn.merchant_order_no if txn else None, "status": c.status,
        "reason": c.reason, "channel": c.channel, "method": c.method,
        "requested_amount": _amount(c.requested_minor, c.currency),
        "approved_amount": _amount(c.approved_minor, c.currency), "currency": c.currency,
        "escalation_level": c.escalation_level, "policy_version": c.policy_version,
        "created_at": _when(c.created_at), "review_due_at": _when(c.review_due_at),
        "completion_due_at": _when(c.completion_due_at), "approved_at": _when(c.approved_at),
        "refunded_at": _when(c.refunded_at),
        "payer_masked": txn.payer_masked if txn else None,
    }
