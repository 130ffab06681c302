"""The codes of the risk domain's user errors."""

from __future__ import annotations

from qrefund.platform.errors import ErrorCode


class RiskError(ErrorCode):
    FLAG_ALREADY_REVIEWED = "FLAG_ALREADY_REVIEWED", ("The risk flag was already dismissed or "
                                                      "confirmed.")
