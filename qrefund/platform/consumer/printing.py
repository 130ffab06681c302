"""The receipt as the merchant's side prints it (the PNG route for thermal printers)."""

from __future__ import annotations

import uuid

from qrefund.platform.crypto import key_ring
from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import NotFound
from qrefund.platform.roles import Permission
from qrefund.platform.transactions import service as transactions
from qrefund.platform.transactions.receipt import make_token


async def current_token(uow: UnitOfWork, tenant_id: uuid.UUID, transaction_id: uuid.UUID
                        ) -> str:
    """The payment's current receipt token, for a key that may read the payment; a payment
    out of scope, or one whose receipt is revoked, is *not found*."""
    uow.scope.require(Permission.READ)
    txn = await transactions.get(uow, tenant_id, transaction_id)
    if txn.receipt_revoked_at is not None:
        raise NotFound("receipt not found", field=["transactionId"])
    return make_token(key_ring(), txn.tenant_id, txn.id, txn.receipt_token_version)
