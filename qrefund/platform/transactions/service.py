"""Recording and listing QR payments."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.exc import IntegrityError

from qrefund.platform import masking, screening, validation
from qrefund.platform.clock import utcnow
from qrefund.platform.crypto import key_ring
from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import CommonError, Conflict, InvalidInput, NotFound
from qrefund.platform.ids import new_id
from qrefund.platform.money import Money
from qrefund.platform.outbox.service import record_event
from qrefund.platform.pagination import Page, cursor_datetime, encode_cursor, parse_cursor
from qrefund.platform.roles import Permission
from qrefund.platform.transactions.errors import TransactionError
from qrefund.platform.transactions.models import PaymentChannel, Transaction, TransactionStatus
from qrefund.platform.transactions.receipt import parse_token
from qrefund.platform.transactions.repository import TransactionFilter, TransactionRepository
from qrefund.tenants.service import resolve_merchant

__all__ = ["TransactionFilter"]

PAYER_PURPOSE = "transaction.payer_account"
PAYER_FINGERPRINT_PURPOSE = "transaction.payer_account_fp"
# Clocks on POS terminals drift; a payment further in the future than this is a bug.
MAX_CLOCK_SKEW = timedelta(minutes=10)
# PENDING may settle later; a settled payment never changes status.
_STATUS_MOVES = {
    (TransactionStatus.PENDING, TransactionStatus.SUCCEEDED),
    (TransactionStatus.PENDING, TransactionStatus.FAILED),
}


@dataclass(frozen=True)
class RecordTransaction:
    merchant_id: uuid.UUID | None
    merchant_order_no: str
    channel: PaymentChannel
    provider_reference: str
    amount: Decimal
    currency: str
    status: TransactionStatus
    paid_at: datetime
    terminal_id: str | None = None
    store_id: str | None = None
    payer_account: str | None = None
    # The amount the integrator's order says should have been charged (same currency).
    expected_amount: Decimal | None = None


def payer_fingerprint(payer: str | None) -> str | None:
    """Keyed fingerprint of a payer account, normalised (case, spaces and dashes ignored),
    so two payments of one payer compare equal without decrypting either."""
    if not payer:
        return None
    normal = "".join(ch for ch in payer.upper() if ch not in " -")
    return key_ring().blind_index(normal, PAYER_FINGERPRINT_PURPOSE)


async def record(uow: UnitOfWork, cmd: RecordTransaction) -> Transaction:
    """Idempotent on (merchant, merchant order number)."""
    uow.scope.require(Permission.RECORD_TRANSACTIONS)
    merchant = await resolve_merchant(uow, cmd.merchant_id)
    order_no = validation.code(cmd.merchant_order_no, "merchantOrderNo", max_len=64)
    reference = validation.code(cmd.provider_reference, "providerReference", max_len=128)
    terminal = validation.code(cmd.terminal_id, "terminalId", max_len=64, required=False)
    store = validation.code(cmd.store_id, "storeId", max_len=64, required=False)
    payer = validation.text(cmd.payer_account, "payerAccount", max_len=64, required=False)
    money = Money.parse(cmd.amount, cmd.currency)
    expected = (Money.parse(cmd.expected_amount, money.currency, "expectedAmount").minor
                if cmd.expected_amount is not None else None)
    paid_at = validation.aware(cmd.paid_at, "paidAt")
    if paid_at > utcnow() + MAX_CLOCK_SKEW:
        raise InvalidInput("paidAt is in the future", field=["paidAt"],
                           code=CommonError.INVALID_DATETIME)
    assert order_no is not None and reference is not None

    repo = TransactionRepository(uow)
    existing = await repo.by_order_no(merchant.id, order_no)
    if existing is not None:
        return await _replay(uow, existing, cmd, money)
    txn = Transaction(
        tenant_id=merchant.id,
        id=new_id(),
        merchant_order_no=order_no,
        channel=cmd.channel.value,
        provider_reference=reference,
        store_id=store,
        terminal_id=terminal,
        amount_minor=money.minor,
        currency=money.currency,
        status=cmd.status.value,
        paid_at=paid_at,
        payer_masked=masking.account(payer) if payer else None,
        payer_account_enc=key_ring().encrypt(payer, PAYER_PURPOSE) if payer else None,
        payer_fp=payer_fingerprint(payer),
        expected_amount_minor=expected,
    )
    try:
        async with uow.savepoint():
            repo.add(txn)
            await uow.flush()
    except IntegrityError:
        # A concurrent call recorded the same order number first: replay against it.
        existing = await repo.by_order_no(merchant.id, order_no)
        if existing is None:
            raise
        return await _replay(uow, existing, cmd, money)
    await record_event(
        uow,
        tenant_id=txn.tenant_id,
        type="transaction.recorded",
        aggregate_type="transaction",
        aggregate_id=txn.id,
        payload=_event_payload(txn),
    )
    await screening.screen_transaction(uow, txn)  # anomaly rules, in this unit
    return txn


def _event_payload(txn: Transaction) -> dict[str, object]:
    return {
        "merchantOrderNo": txn.merchant_order_no,
        "amount": str(txn.amount.decimal),
        "currency": txn.currency,
        "status": txn.status,
        "channel": txn.channel,
    }


async def _replay(
    uow: UnitOfWork, txn: Transaction, cmd: RecordTransaction, money: Money
) -> Transaction:
    if (txn.amount_minor, txn.currency) != (money.minor, money.currency):
        raise Conflict(
            f"order {txn.merchant_order_no} was recorded with amount {txn.amount}",
            field=["amount"],
            code=TransactionError.ORDER_NO_CONFLICT,
        )
    if txn.channel != cmd.channel.value or txn.provider_reference != cmd.provider_reference.strip():
        raise Conflict(
            f"order {txn.merchant_order_no} was recorded with another payment",
            field=["merchantOrderNo"],
            code=TransactionError.ORDER_NO_CONFLICT,
        )
    if txn.status != cmd.status.value:
        if (TransactionStatus(txn.status), cmd.status) not in _STATUS_MOVES:
            raise Conflict(
                f"order {txn.merchant_order_no} is already {txn.status}",
                field=["status"],
                code=TransactionError.ORDER_NO_CONFLICT,
            )
        previous, txn.status = txn.status, cmd.status.value
        TransactionRepository(uow).add(txn)
        await record_event(
            uow,
            tenant_id=txn.tenant_id,
            type="transaction.status_changed",
            aggregate_type="transaction",
            aggregate_id=txn.id,
            payload={**_event_payload(txn), "previousStatus": previous},
        )
    return txn


async def get(
    uow: UnitOfWork, tenant_id: uuid.UUID, txn_id: uuid.UUID, *, lock: bool = False
) -> Transaction:
    return await TransactionRepository(uow).require(tenant_id, txn_id, lock=lock,
                                                    what="transaction", field=None)


async def by_keys(uow: UnitOfWork, keys: Sequence[tuple[uuid.UUID, uuid.UUID]]
                  ) -> dict[tuple[uuid.UUID, uuid.UUID], Transaction]:
    """Payments by (merchant, id); those outside the scope are left out."""
    return await TransactionRepository(uow).by_keys(keys)


async def by_receipt_token(uow: UnitOfWork, token: str) -> Transaction:
    """The transaction an authentic, current receipt token names (the consumer's way in).

    A forged, malformed, revoked or superseded token, or one of a merchant outside the
    scope, is *not found*; nothing tells the cases apart.
    """
    parsed = parse_token(key_ring(), token)
    if parsed is None:
        raise NotFound("receipt not found", field=["receiptToken"])
    tenant_id, txn_id, version = parsed
    try:
        txn = await get(uow, tenant_id, txn_id)
    except NotFound:
        raise NotFound("receipt not found", field=["receiptToken"]) from None
    if txn.receipt_revoked_at is not None or txn.receipt_token_version != version:
        raise NotFound("receipt not found", field=["receiptToken"])
    return txn


async def revoke_receipt(
    uow: UnitOfWork, tenant_id: uuid.UUID, txn_id: uuid.UUID, *, reissue: bool = False
) -> Transaction:
    """Stop printed receipts from working; ``reissue`` gives the payment a new token."""
    txn = await get(uow, tenant_id, txn_id, lock=True)
    uow.scope.require(Permission.RECORD_TRANSACTIONS)
    txn.receipt_token_version += 1  # every token printed so far stops verifying
    txn.receipt_revoked_at = None if reissue else utcnow()
    TransactionRepository(uow).add(txn)
    await record_event(
        uow,
        tenant_id=txn.tenant_id,
        type="transaction.receipt_revoked",
        aggregate_type="transaction",
        aggregate_id=txn.id,
        payload={"reissued": reissue},
    )
    return txn


async def list_page(
    uow: UnitOfWork, flt: TransactionFilter, *, first: int, after: str | None
) -> Page[Transaction]:
    """Newest first by (paid_at, id); one query for the page, whatever its size."""
    uow.scope.require(Permission.READ)
    position = parse_cursor(after, cursor_datetime, uuid.UUID) if after else None
    rows = await TransactionRepository(uow).page(flt, first=first,
                                                 after=position)  # type: ignore[arg-type]
    return Page.from_rows(
        rows, first=first, after=after, cursor=lambda t: encode_cursor([t.paid_at, t.id])
    )


async def count(uow: UnitOfWork, flt: TransactionFilter) -> int:
    return await TransactionRepository(uow).count_where(flt)
