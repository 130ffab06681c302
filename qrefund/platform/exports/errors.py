"""The codes of the exports domain's user errors."""

from __future__ import annotations

from qrefund.platform.errors import ErrorCode


class ExportError(ErrorCode):
    INVALID_PERIOD = "INVALID_PERIOD", "An export's `from` must be before its `to`."
    PERIOD_TOO_LONG = "PERIOD_TOO_LONG", ("An export covers at most 366 days: split a longer "
                                          "period into several exports.")
    EXPORT_NOT_ALLOWED = "EXPORT_NOT_ALLOWED", (
        "This key cannot own an export: a key restricted to some merchants, or a suspended "
        "merchant's own key (ask an unrestricted agency key or the operator).")
