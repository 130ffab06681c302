"""The codes of the payouts domain's user errors."""

from __future__ import annotations

from qrefund.platform.errors import ErrorCode


class PayoutError(ErrorCode):
    TOO_MANY_PAYOUT_ATTEMPTS = "TOO_MANY_PAYOUT_ATTEMPTS", ("This refund's payout was tried "
                                                            "the most times allowed.")
    UNKNOWN_ADAPTER = "UNKNOWN_ADAPTER", ("No payment channel adapter has this name (a "
                                          "platform configuration fault).")
