"""The codes of the policies domain's user errors."""

from __future__ import annotations

from qrefund.platform.errors import ErrorCode


class PolicyError(ErrorCode):
    INVALID_LOCALE = "INVALID_LOCALE", ("A consumer text's locale is not one the platform serves "
                                        "(zh-CN, en).")
    DUPLICATE_LOCALE = "DUPLICATE_LOCALE", "The same locale is given twice in consumerText."
    DUPLICATE_RISK_RULE = "DUPLICATE_RISK_RULE", "riskRules names the same rule twice."
