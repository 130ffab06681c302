"""The codes of the payment channel accounts' user errors."""

from __future__ import annotations

from qrefund.platform.errors import ErrorCode


class ChannelError(ErrorCode):
    INVALID_CREDENTIAL = "INVALID_CREDENTIAL", ("A credential does not parse or has the wrong "
                                                "shape (the field names which).")
    DUPLICATE_CHANNEL_ACCOUNT = "DUPLICATE_CHANNEL_ACCOUNT", (
        "The tenant already has an account for this channel: rotate or re-enable it.")
    CHANNEL_ACCOUNT_ENABLED = "CHANNEL_ACCOUNT_ENABLED", "The account is already enabled."
    CHANNEL_ACCOUNT_DISABLED = "CHANNEL_ACCOUNT_DISABLED", "The account is already disabled."
    CHANNEL_NOT_CONFIGURED = "CHANNEL_NOT_CONFIGURED", (
        "The payment's channel (WeChat Pay, Alipay) has no enabled account for this merchant, "
        "so a refund to the original route cannot be paid: configure one first.")
    NOT_A_SERVICE_PROVIDER_ACCOUNT = "NOT_A_SERVICE_PROVIDER_ACCOUNT", (
        "Only an agency's own account (service-provider mode) can have merchants linked.")
    DUPLICATE_CHANNEL_LINK = "DUPLICATE_CHANNEL_LINK", (
        "The merchant is already linked to this account: unlink it first to change its "
        "sub-merchant reference.")
    MERCHANT_NOT_LINKED = "MERCHANT_NOT_LINKED", "The merchant has no live link to this account."
