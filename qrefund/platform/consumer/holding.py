"""The receipt a call is made with: the payment it names, checked, and what is on it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from qrefund.platform.clock import utcnow
from qrefund.platform.complaints import queries as complaint_queries
from qrefund.platform.complaints.models import ComplaintTicket
from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import NotFound
from qrefund.platform.policies import service as policies
from qrefund.platform.policies.terms import PolicyTerms
from qrefund.platform.refunds import queries as refund_queries
from qrefund.platform.refunds.models import RefundCase
from qrefund.platform.roles import Permission
from qrefund.platform.transactions import service as transactions
from qrefund.platform.transactions.models import Transaction
from qrefund.tenants.auth import frozen
from qrefund.tenants.models import ACTIVE
from qrefund.tenants.service import get_tenant

FOLLOW_UP_DAYS = 180


def gone() -> NotFound:
    return NotFound("receipt not found", field=["receiptToken"])


@dataclass
class HeldReceipt:
    """The receipt's payment and what the consumer has on it (loaded once per call)."""

    txn: Transaction
    terms: PolicyTerms
    merchant_name: str
    merchant_slug: str
    cases: list[RefundCase]
    tickets: list[ComplaintTicket]

    @property
    def expires_at(self) -> datetime:
        window_end = self.txn.paid_at + timedelta(days=self.terms.refund_window_days)
        moved = [c.updated_at for c in self.cases] + [t.updated_at for t in self.tickets]
        return max([window_end, *(m + timedelta(days=FOLLOW_UP_DAYS) for m in moved)])


async def hold_receipt(uow: UnitOfWork, token: str) -> HeldReceipt:
    """The payment a current receipt token names, checked against the unit's scope (and
    the consumer's cases and tickets on it); *not found* for any token that does not
    work."""
    scope = uow.scope
    if scope.receipt is None or not scope.can(Permission.READ_RECEIPT):
        raise gone()
    try:
        txn = await transactions.by_receipt_token(uow, token)
    except NotFound:
        raise gone() from None
    if not scope.holds_receipt_of(txn.tenant_id, txn.id):
        raise gone()
    merchant = await get_tenant(uow, txn.tenant_id)
    if merchant.status != ACTIVE:  # suspended or closed: readable, nothing new filed
        uow.scope = frozen(uow.scope, frozenset({merchant.id}))
    terms = await policies.effective_for(uow, merchant)
    key = (txn.tenant_id, txn.id)
    cases = (await refund_queries.cases_by_transaction(uow, [key])).get(key, [])
    tickets = (await complaint_queries.tickets_by_transaction(uow, [key])).get(key, [])
    held = HeldReceipt(txn, terms, merchant.name, merchant.slug, list(cases), list(tickets))
    if utcnow() > held.expires_at:
        raise gone()
    return held
