"""The codes of the complaints domain's user errors."""

from __future__ import annotations

from qrefund.platform.errors import ErrorCode


class ComplaintError(ErrorCode):
    ALREADY_RATED = "ALREADY_RATED", "The consumer has already rated this ticket (once only)."
    REOPEN_WINDOW_CLOSED = "REOPEN_WINDOW_CLOSED", ("The policy's reopen window after the "
                                                    "resolution has passed.")
    CASE_NOT_OF_TRANSACTION = "CASE_NOT_OF_TRANSACTION", ("The refund case named is not a case "
                                                          "of the payment named.")
    FOLLOW_UP_NOT_ALLOWED = "FOLLOW_UP_NOT_ALLOWED", (
        "A follow-up refund case needs a refunding resolution (REFUND_ISSUED, "
        "REFUND_RECONSIDERED, GOODWILL), and a ticket has at most one.")
