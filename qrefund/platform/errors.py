"""The one family of expected failures.

Services raise :class:`DomainError` subclasses; the GraphQL layer turns every one
into a ``UserError`` (``code``, ``field``, ``message``) in a single place, and the
unit of work rolls the transaction back, so nothing is half written.
"""

from __future__ import annotations

from collections.abc import Sequence


class DomainError(Exception):
    code: str = "INVALID"

    def __init__(
        self, message: str, *, field: Sequence[str] | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = list(field) if field else None
        if code:
            self.code = code


class NotFound(DomainError):
    """Also what another tenant's id answers: never *forbidden*."""

    code = "NOT_FOUND"


class Forbidden(DomainError):
    code = "FORBIDDEN"


class InvalidInput(DomainError):
    code = "INVALID_INPUT"


class InvalidState(DomainError):
    code = "INVALID_STATE"


class Conflict(DomainError):
    code = "CONFLICT"


class IdempotencyKeyReused(DomainError):
    code = "IDEMPOTENCY_KEY_REUSED"


class Unauthenticated(Exception):
    """Missing, unknown, revoked or expired credentials: HTTP 401."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
