"""QR payments recorded by integrators."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Column, ForeignKeyConstraint, Index, UniqueConstraint, and_, func
from sqlmodel import Field, SQLModel, col

from qrefund.platform.money import Money
from qrefund.platform.sqltypes import UTCDateTime, created_at, id_pk, tenant_pk


class PaymentChannel(StrEnum):
    WECHAT_PAY = "WECHAT_PAY"
    ALIPAY = "ALIPAY"
    UNIONPAY_QR = "UNIONPAY_QR"
    ECNY = "ECNY"
    CARD = "CARD"
    OTHER = "OTHER"


class TransactionStatus(StrEnum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    PENDING = "PENDING"


class Transaction(SQLModel, table=True):
    __tablename__ = "transactions"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        UniqueConstraint("tenant_id", "merchant_order_no", name="uq_transactions_order_no"),
        Index("ix_transactions_page", "tenant_id", "paid_at", "id"),
        # The anomaly rules' look-ups: a payer's recent payments, a terminal's day.
        Index("ix_transactions_payer_fp", "tenant_id", "payer_fp", "paid_at"),
        Index("ix_transactions_terminal", "tenant_id", "terminal_id", "paid_at"),
    )

    tenant_id: uuid.UUID = tenant_pk()
    id: uuid.UUID = id_pk()
    merchant_order_no: str = Field(max_length=64)
    channel: str = Field(max_length=16)
    provider_reference: str = Field(max_length=128)
    store_id: str | None = Field(default=None, max_length=64)
    terminal_id: str | None = Field(default=None, max_length=64)
    amount_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(max_length=3)
    status: str = Field(max_length=16)
    paid_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    payer_masked: str | None = Field(default=None, max_length=64)
    payer_account_enc: str | None = Field(default=None, max_length=1024)
    # Keyed fingerprint of the normalised payer account: equality without decrypting.
    payer_fp: str | None = Field(default=None, max_length=64)
    # The amount the integrator's order says should have been charged (optional); a
    # different charged amount is an anomaly (AMOUNT_MISMATCH).
    expected_amount_minor: int | None = Field(
        default=None, sa_column=Column(BigInteger, nullable=True))
    # Money already paid back, and money promised (approved or paying out) but not
    # yet paid: refunded + reserved never exceeds amount (checked under a row lock).
    refunded_minor: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    reserved_minor: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    refund_count: int = Field(default=0)
    receipt_token_version: int = Field(default=1)
    receipt_revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = created_at()

    @property
    def amount(self) -> Money:
        return Money(self.amount_minor, self.currency)

    @property
    def refunded(self) -> Money:
        return Money(self.refunded_minor, self.currency)

    @property
    def refundable_minor(self) -> int:
        return max(self.amount_minor - self.refunded_minor - self.reserved_minor, 0)


def refundable_minor_of() -> Any:
    """``Transaction.refundable_minor`` as a column expression (for JSON built in SQL)."""
    paid, refunded, reserved = (col(Transaction.amount_minor), col(Transaction.refunded_minor),
                                col(Transaction.reserved_minor))
    return func.greatest(paid - refunded - reserved, 0)


def payment_of(model: Any) -> Any:
    """The join condition of a row of ``model`` (a refund case, a complaint ticket: any
    row with ``tenant_id`` and ``transaction_id``) to its payment."""
    return and_(col(Transaction.tenant_id) == model.tenant_id,
                col(Transaction.id) == model.transaction_id)
