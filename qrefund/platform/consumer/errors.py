"""The codes of the consumer channel's user errors (receipt holders, evidence files)."""

from __future__ import annotations

from qrefund.platform.errors import ErrorCode


class ConsumerError(ErrorCode):
    DUPLICATE_REQUEST = "DUPLICATE_REQUEST", (
        "An undecided refund request for the same amount and reason is already open on "
        "this receipt (follow it, or cancel it first).")
    FILE_TOO_LARGE = "FILE_TOO_LARGE", "An evidence file is larger than allowed (5 MB)."
    FILE_TYPE_NOT_ALLOWED = "FILE_TYPE_NOT_ALLOWED", (
        "An evidence file is not a JPEG, PNG, WebP or PDF judged by its content (its name "
        "and declared type do not count), or cannot be read as one.")
