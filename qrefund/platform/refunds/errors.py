"""The codes of the refunds domain's user errors: intake refusals and case decisions."""

from __future__ import annotations

from qrefund.platform.errors import ErrorCode


class RefundError(ErrorCode):
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH", ("The currency given is not the payment's "
                                              "currency.")
    TRANSACTION_NOT_REFUNDABLE = "TRANSACTION_NOT_REFUNDABLE", (
        "The payment did not succeed (a FAILED one only with reason "
        "PAYMENT_FAILED_BUT_CHARGED).")
    REFUND_WINDOW_CLOSED = "REFUND_WINDOW_CLOSED", ("The policy's refund window after the "
                                                    "payment has closed.")
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED", ("The merchant's refund policy does not allow "
                                                "this refund method.")
    EVIDENCE_REQUIRED = "EVIDENCE_REQUIRED", ("The policy requires evidence for this reason "
                                              "and none was given.")
    PARTIAL_REFUND_NOT_ALLOWED = "PARTIAL_REFUND_NOT_ALLOWED", (
        "The policy allows only full refunds (request or approval of less than the whole).")
    AMOUNT_EXCEEDS_REFUNDABLE = "AMOUNT_EXCEEDS_REFUNDABLE", (
        "More than what is still refundable on the payment (refunded and reserved amounts "
        "deducted).")
    REFUND_LIMIT_REACHED = "REFUND_LIMIT_REACHED", ("The payment already has the most refund "
                                                    "requests the policy allows.")
    AMOUNT_EXCEEDS_REQUESTED = "AMOUNT_EXCEEDS_REQUESTED", ("An approval of more than the "
                                                            "amount the case requested.")
    EXTENSION_TOO_LONG = "EXTENSION_TOO_LONG", ("The deadline extensions of this case would "
                                                "exceed what the policy allows.")
