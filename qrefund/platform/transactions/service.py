"""Recording and listing QR payments."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError

from qrefund.platform import masking, screening, validation
from qrefund.platform.clock import utcnow
from qrefund.platform.crypto import key_ring
from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import CommonError, Conflict, InvalidInput, NotFound
from qrefund.platform.ids import new_id
from qrefund.platform.json_render import Render
from qrefund.platform.money import Money
from qrefund.platform.outbox.service import record_event
from qrefund.platform.pagination import (
    Page,
    cursor_datetime,
    encode_cursor,
    parse_cursor,
    rendered,
)
from qrefund.platform.roles import Permission
from qrefund.platform.transactions.errors import TransactionError
from qrefund.platform.transactions.models import PaymentChannel, Transaction, TransactionStatus
from qrefund.platform.transactions.receipt import parse_token
from qrefund.platform.transactions.repository import TransactionFilter, TransactionRepository
from qrefund.tenants.models import ACTIVE, Tenant
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


@dataclass(frozen=True)
class Normalised:
    """A command's values as stored: checked, trimmed, money parsed (one row's rules,
    shared by :func:`record` and :func:`qrefund.platform.transactions.batch.record_many`)."""

    order_no: str
    reference: str
    terminal: str | None
    store: str | None
    payer: str | None
    money: Money
    paid_at: datetime
    expected_minor: int | None = None


def normalise(cmd: RecordTransaction) -> Normalised:
    """Raises :class:`InvalidInput` (with the field) for a value that cannot be stored."""
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
    return Normalised(order_no, reference, terminal, store, payer, money, paid_at, expected)


def row_values(merchant_id: uuid.UUID, cmd: RecordTransaction, n: Normalised
               ) -> dict[str, Any]:
    """Every column of the row a first recording writes (the payer's account encrypted
    and masked): the one-row path makes its ORM row of it, the batch path inserts it."""
    return {
        "tenant_id": merchant_id, "id": new_id(), "merchant_order_no": n.order_no,
        "channel": cmd.channel.value, "provider_reference": n.reference, "store_id": n.store,
        "terminal_id": n.terminal, "amount_minor": n.money.minor,
        "currency": n.money.currency, "status": cmd.status.value, "paid_at": n.paid_at,
        "payer_masked": masking.account(n.payer) if n.payer else None,
        "payer_account_enc": key_ring().encrypt(n.payer, PAYER_PURPOSE) if n.payer else None,
        "payer_fp": payer_fingerprint(n.payer), "expected_amount_minor": n.expected_minor,
        "refunded_minor": 0, "reserved_minor": 0, "refund_count": 0,
        "receipt_token_version": 1, "receipt_revoked_at": None, "created_at": utcnow(),
    }


def require_writable(merchant: Tenant) -> None:
    """A suspended or closed merchant records nothing new. A key's own scope already
    freezes such a merchant at the flush; a job's scope (imports) is checked here."""
    if merchant.status != ACTIVE:
        raise Conflict("the merchant is suspended: nothing new can be written",
                       field=["merchantId"], code=CommonError.MERCHANT_SUSPENDED)


async def record(uow: UnitOfWork, cmd: RecordTransaction) -> Transaction:
    """Idempotent on (merchant, merchant order number)."""
    uow.scope.require(Permission.RECORD_TRANSACTIONS)
    merchant = await resolve_merchant(uow, cmd.merchant_id)
    n = normalise(cmd)
    repo = TransactionRepository(uow)
    existing = await repo.by_order_no(merchant.id, n.order_no)
    if existing is not None:
        return await replay(uow, existing, cmd, n.money)
    txn = Transaction(**row_values(merchant.id, cmd, n))
    try:
        async with uow.savepoint():
            repo.add(txn)
            await uow.flush()
    except IntegrityError:
        # A concurrent call recorded the same order number first: replay against it.
        existing = await repo.by_order_no(merchant.id, n.order_no)
        if existing is None:
            raise
        return await replay(uow, existing, cmd, n.money)
    await record_recorded_event(uow, txn)
    await screening.screen_transaction(uow, txn)  # anomaly rules, in this unit
    return txn


async def record_recorded_event(uow: UnitOfWork, txn: Transaction) -> None:
    await record_event(
        uow,
        tenant_id=txn.tenant_id,
        type="transaction.recorded",
        aggregate_type="transaction",
        aggregate_id=txn.id,
        payload=_event_payload(txn),
    )


def _event_payload(txn: Transaction) -> dict[str, object]:
    return recorded_payload(txn.merchant_order_no, txn.amount, txn.status, txn.channel)


def recorded_payload(order_no: str, amount: Money, status: str, channel: str
                     ) -> dict[str, object]:
    """The payload of ``transaction.recorded`` (and the base of ``status_changed``)."""
    return {"merchantOrderNo": order_no, "amount": str(amount.decimal),
            "currency": amount.currency, "status": status, "channel": channel}


async def replay(
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


async def write_changes(uow: UnitOfWork, txn: Transaction) -> None:
    """Write a loaded payment's changed amounts now (``TenantRepository.write_changes``:
    one UPDATE, past the ORM's flush)."""
    await TransactionRepository(uow).write_changes(txn)


async def by_keys(uow: UnitOfWork, keys: Sequence[tuple[uuid.UUID, uuid.UUID]], *,
                  views: bool = False) -> dict[tuple[uuid.UUID, uuid.UUID], Transaction]:
    """Payments by (merchant, id); those outside the scope are left out. ``views``:
    read-only views, for read paths (``TenantRepository.views``)."""
    return await TransactionRepository(uow).by_keys(keys, views=views)


async def rendered_one(uow: UnitOfWork, key: tuple[uuid.UUID, uuid.UUID],
                       node: Render) -> dict[str, Any] | None:
    """The payment :func:`by_keys` reads for ``key``, as the JSON object ``node``
    describes, built by PostgreSQL (:mod:`qrefund.platform.json_render`)."""
    return await TransactionRepository(uow).rendered_node(key, node)


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


async def rendered_page(uow: UnitOfWork, flt: TransactionFilter, *, first: int,
                        after: str | None, node: Render) -> Page[dict[str, Any]]:
    """:func:`list_page`'s page with each payment as the JSON object ``node`` describes,
    built by PostgreSQL (:mod:`qrefund.platform.json_render`)."""
    uow.scope.require(Permission.READ)
    position = parse_cursor(after, cursor_datetime, uuid.UUID) if after else None
    rows = await TransactionRepository(uow).rendered_page(
        flt, first=first, after=position, node=node)  # type: ignore[arg-type]
    return rendered(rows, first=first, after=after)


async def count(uow: UnitOfWork, flt: TransactionFilter) -> int:
    return await TransactionRepository(uow).count_where(flt)
