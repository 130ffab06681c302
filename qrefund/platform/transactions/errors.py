"""The codes of the transactions domain's user errors."""

from __future__ import annotations

from qrefund.platform.errors import ErrorCode


class TransactionError(ErrorCode):
    ORDER_NO_CONFLICT = "ORDER_NO_CONFLICT", ("This merchant order number was recorded with "
                                              "another payment (amount, channel, reference or "
                                              "a status it cannot move to).")
