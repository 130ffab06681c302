"""The one family of expected failures, and the catalogue of their codes.

Services raise :class:`DomainError` subclasses; the GraphQL layer turns every one
into a ``UserError`` (``code``, ``field``, ``message``) in a single place, and the
unit of work rolls the transaction back, so nothing is half written.

Every code is a member of an :class:`ErrorCode` enum: the general ones below
(:class:`CommonError`) and one enum per domain (``<domain>/errors.py``). Clients
see the whole catalogue as the ``UserErrorCode`` enum in the schema; codes are
added, never renamed or removed (``tests/foundation/test_error_codes.py``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from enum import StrEnum


class DescribedCode(StrEnum):
    """A code with its meaning: members are ``NAME = "NAME", "what it means"``."""

    description: str

    def __new__(cls, value: str, description: str = "") -> DescribedCode:
        member = str.__new__(cls, value)
        member._value_ = value
        member.description = description
        return member


class ErrorCode(DescribedCode):
    """Base of every user-error catalogue: what :func:`catalogue` walks.

    Codes of the HTTP and WebSocket edge (``RATE_LIMITED``...) are not user errors and
    derive from :class:`DescribedCode` directly (``qrefund/graphql_schema/errors.py``).
    """


class CommonError(ErrorCode):
    NOT_FOUND = "NOT_FOUND", ("No such object in your scope (another tenant's ids answer this "
                              "too).")
    FORBIDDEN = "FORBIDDEN", "Your key's role may not do this."
    INVALID_INPUT = "INVALID_INPUT", "An argument is wrong (the message says which and why)."
    INVALID_STATE = "INVALID_STATE", "The object's status does not allow this step."
    CONFLICT = "CONFLICT", "This clashes with what exists."
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED", ("This idempotencyKey was used with other "
                                                       "input.")
    REQUIRED = "REQUIRED", "A required value is missing or blank."
    TOO_LONG = "TOO_LONG", "A text is longer than the field allows."
    TOO_MANY = "TOO_MANY", "A list has more items than allowed."
    OUT_OF_RANGE = "OUT_OF_RANGE", "A number is outside the allowed range."
    INVALID_FORMAT = "INVALID_FORMAT", ("A text holds characters that are not allowed (NUL, "
                                        "control characters, lone surrogates) or has the wrong "
                                        "shape.")
    INVALID_DATETIME = "INVALID_DATETIME", ("A date and time without a UTC offset, out of range, "
                                            "or not in the required window.")
    INVALID_CURSOR = "INVALID_CURSOR", "after is not a cursor this connection gave out."
    INVALID_PAGE_SIZE = "INVALID_PAGE_SIZE", "first is outside 1..the maximum page size."
    INVALID_AMOUNT = "INVALID_AMOUNT", ("An amount is not positive, has more decimals than its "
                                        "currency, or is absurdly large.")
    INVALID_CURRENCY = "INVALID_CURRENCY", "Not an ISO 4217 currency code."
    INVALID_SLUG = "INVALID_SLUG", "A slug must be 1-64 lowercase letters, digits or dashes."
    INVALID_TIMEZONE = "INVALID_TIMEZONE", "Not an IANA time zone name."
    MERCHANT_SUSPENDED = "MERCHANT_SUSPENDED", ("The merchant is suspended or closed: its data "
                                                "can be read, nothing new can be written.")
    MERCHANT_REQUIRED = "MERCHANT_REQUIRED", ("Agency and operator keys must name the merchant "
                                              "(merchantId).")
    NOT_A_MERCHANT = "NOT_A_MERCHANT", ("The tenant named is not a merchant (for a refund "
                                        "policy: nor an agency).")
    REASON_NOT_ALLOWED = "REASON_NOT_ALLOWED", ("A refund reason the merchant's refund policy "
                                                "does not accept.")
    BANK_DESTINATION_REQUIRED = "BANK_DESTINATION_REQUIRED", ("A BANK_TRANSFER refund needs "
                                                              "bankDestination.")


def catalogue() -> Iterator[ErrorCode]:
    """Every code of every domain catalogue imported so far, each once."""
    seen: set[str] = set()
    pending: list[type[ErrorCode]] = list(ErrorCode.__subclasses__())
    while pending:
        enum = pending.pop(0)
        pending.extend(enum.__subclasses__())
        for member in enum:
            if member.value not in seen:
                seen.add(member.value)
                yield member


class DomainError(Exception):
    # An enum member, never a bare string: mypy refuses a ``str`` here.
    code: ErrorCode = CommonError.INVALID_INPUT

    def __init__(
        self, message: str, *, field: Sequence[str] | None = None,
        code: ErrorCode | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = list(field) if field else None
        if code:
            self.code = code


class NotFound(DomainError):
    """Also what another tenant's id answers: never *forbidden*."""

    code = CommonError.NOT_FOUND


class Forbidden(DomainError):
    code = CommonError.FORBIDDEN


class InvalidInput(DomainError):
    code = CommonError.INVALID_INPUT


class InvalidState(DomainError):
    code = CommonError.INVALID_STATE


class Conflict(DomainError):
    code = CommonError.CONFLICT


class IdempotencyKeyReused(DomainError):
    code = CommonError.IDEMPOTENCY_KEY_REUSED


class Unauthenticated(Exception):
    """Missing, unknown, revoked or expired credentials: HTTP 401."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
