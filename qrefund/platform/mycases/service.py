"""Everything filed with a contact, across merchants, for the consumer who proved it.

The caller's scope is a contact scope (:func:`qrefund.tenants.auth.contact_scope`),
whose one permission, ``LIST_OWN_FILINGS``, the refund and complaint services answer
with the rows whose contact fingerprint matches. Payments and merchant names are
then read for those rows only. The result is plain values (no rows), each with the
receipt token that opens its payment's page, unless that receipt was revoked.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from qrefund.platform.complaints import queries as complaints
from qrefund.platform.crypto import key_ring
from qrefund.platform.db import UnitOfWork
from qrefund.platform.refunds import queries as refunds
from qrefund.platform.roles import Permission
from qrefund.platform.transactions import service as transactions
from qrefund.platform.transactions.receipt import make_token
from qrefund.tenants import service as tenants

LIMIT = 100  # per kind: a consumer with more is rare, and the page stays small


@dataclass(frozen=True)
class Filing:
    kind: str  # "refund" | "complaint"
    number: str
    status: str
    created_at: datetime
    merchant_name: str
    timezone: str
    amount_minor: int | None
    currency: str | None
    category: str | None
    receipt_token: str | None  # None once the merchant revoked the receipt


async def filings(uow: UnitOfWork) -> list[Filing]:
    """The contact's refund cases and complaint tickets, newest first."""
    uow.scope.require(Permission.LIST_OWN_FILINGS)
    cases = await refunds.cases_of_contact(uow, limit=LIMIT)
    tickets = await complaints.tickets_of_contact(uow, limit=LIMIT)
    keys = {(c.tenant_id, c.transaction_id) for c in cases}
    keys |= {(t.tenant_id, t.transaction_id) for t in tickets}
    payments = await transactions.by_keys(uow, sorted(keys))
    merchants = await tenants.tenants_by_id(uow, {k[0] for k in keys})
    ring = key_ring()

    def token(tenant_id: uuid.UUID, txn_id: uuid.UUID) -> str | None:
        txn = payments.get((tenant_id, txn_id))
        if txn is None or txn.receipt_revoked_at is not None:
            return None
        return make_token(ring, tenant_id, txn_id, txn.receipt_token_version)

    found = [
        Filing("refund", c.case_number, c.status, c.created_at, merchants[c.tenant_id].name,
               merchants[c.tenant_id].timezone, c.requested_minor, c.currency, None,
               token(c.tenant_id, c.transaction_id))
        for c in cases
    ] + [
        Filing("complaint", t.ticket_number, t.status, t.created_at,
               merchants[t.tenant_id].name, merchants[t.tenant_id].timezone, None, None,
               t.category, token(t.tenant_id, t.transaction_id))
        for t in tickets
    ]
    return sorted(found, key=lambda f: f.created_at, reverse=True)
