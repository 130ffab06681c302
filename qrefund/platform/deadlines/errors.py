"""The codes of the deadlines domain's user errors."""

from __future__ import annotations

from qrefund.platform.errors import ErrorCode


class DeadlineError(ErrorCode):
    TENANT_REQUIRED = "TENANT_REQUIRED", "Operator keys must name the tenant (tenantId)."
    NOT_A_MERCHANT_OR_AGENCY = "NOT_A_MERCHANT_OR_AGENCY", ("The tenant named is neither a "
                                                            "merchant nor an agency.")
