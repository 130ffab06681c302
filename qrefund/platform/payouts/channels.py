"""Payment channel adapters: the one interface every payout route implements.

An adapter sends a refund (``refund``) and asks how it went (``query``), both keyed
by the caller's ``out_refund_no``. Like WeChat Pay's or Alipay's refund APIs, a
channel must treat a repeated ``out_refund_no`` as the same refund (return its
current state, never pay again), which is what makes a retried or duplicated
payout job safe. Adapters raise :class:`ChannelUnavailable` for transient
trouble (timeouts, 5xx, rate limits): the job retries with backoff.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Protocol, runtime_checkable

from qrefund.platform.errors import InvalidInput
from qrefund.platform.payouts.errors import PayoutError


class ChannelStatus(StrEnum):
    SUCCEEDED = "SUCCEEDED"
    PROCESSING = "PROCESSING"
    FAILED = "FAILED"


@dataclass(frozen=True)
class RefundRequest:
    out_refund_no: str
    tenant_id: uuid.UUID
    amount_minor: int
    currency: str
    method: str  # ORIGINAL_ROUTE or BANK_TRANSFER
    payment_channel: str  # the original payment's channel (WECHAT_PAY, ...)
    provider_reference: str  # the original payment's id at the channel
    destination: str | None = None  # bank transfer: where the money goes (decrypted)
    reason: str | None = None
    payment_amount_minor: int | None = None  # the original payment's amount (WeChat Pay: total)


@dataclass(frozen=True)
class ChannelResult:
    status: ChannelStatus
    provider_refund_id: str | None = None
    failure_code: str | None = None
    failure_reason: str | None = None


class ChannelUnavailable(Exception):
    """Transient: the channel could not answer now; try again later, same key."""


class ChannelRequestRejected(Exception):
    """The channel refused the request itself (e.g. a key reused with another amount):
    a bug, not a payout outcome; the job fails and shows up in the failed registry."""


@dataclass(frozen=True, slots=True)
class BillRow:
    """One refund in a provider's daily refund bill."""

    out_refund_no: str
    provider_refund_id: str
    amount_minor: int
    refunded: bool  # the provider says the money went back (WeChat Pay: SUCCESS)
    status: str  # the provider's own word, for the discrepancy note


class BillUnavailable(Exception):
    """The day's bill cannot be used now (not generated yet, or it failed its hash):
    compare nothing, keep the per-payout queries, try the bill again next run."""


class BillNotReady(BillUnavailable):
    """The provider has no bill for that day yet (WeChat Pay: NO_STATEMENT_EXIST)."""


@runtime_checkable
class RefundBillSource(Protocol):
    """An adapter whose provider offers a daily refund bill download."""

    async def refund_bill(self, bill_date: date) -> list[BillRow]: ...


class PaymentChannelAdapter(Protocol):
    name: str

    async def refund(self, request: RefundRequest) -> ChannelResult: ...

    async def query(self, out_refund_no: str) -> ChannelResult: ...


AdapterFactory = Callable[[], PaymentChannelAdapter]
_ADAPTERS: dict[str, AdapterFactory] = {}

DEFAULT_ADAPTER = "sandbox"


def register_adapter(name: str, factory: AdapterFactory) -> None:
    """Make ``name`` available to payouts (the job runtime registers ``sandbox``)."""
    _ADAPTERS[name] = factory


def adapter(name: str) -> PaymentChannelAdapter:
    try:
        factory = _ADAPTERS[name]
    except KeyError:
        raise InvalidInput(f"no payment channel adapter named {name!r}", field=["adapter"],
                           code=PayoutError.UNKNOWN_ADAPTER) from None
    return factory()


def known_adapters() -> list[str]:
    return sorted(_ADAPTERS)
