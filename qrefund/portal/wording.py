"""What the receipt page says after an action, and why a request was refused, in the
consumer's language (the domain's messages are for developers, in English)."""

from __future__ import annotations

from typing import Any

from qrefund.platform.errors import DomainError


def done(text: Any, what: str | None) -> str | None:
    """The notice after a form went through (``?done=`` of the redirect)."""
    _ = text.gettext
    return {
        "submitted": _("Your refund request has been submitted."),
        "answered": _("Your answer has been sent to the merchant."),
        "cancelled": _("Your refund request has been cancelled."),
        "complained": _("Your complaint has been filed."),
        "rated": _("Thank you for your rating."),
    }.get(what or "")


def refusal(text: Any, exc: DomainError) -> str:
    """Why a form was refused; nothing was saved."""
    _ = text.gettext
    known = {
        "AMOUNT_EXCEEDS_REFUNDABLE": _("The amount is more than can still be refunded."),
        "PARTIAL_REFUND_NOT_ALLOWED": _("This merchant refunds the full amount only."),
        "REFUND_WINDOW_CLOSED": _("The time to ask for a refund of this payment has passed."),
        "EVIDENCE_REQUIRED": _("Please add a photo or document for this reason."),
        "REFUND_LIMIT_REACHED": _("This payment already has as many refund requests as "
                                  "the merchant allows."),
        "METHOD_NOT_ALLOWED": _("This way of refunding is not available."),
        "DUPLICATE_REQUEST": _("You have already asked for this refund; follow it above."),
        "FILE_TOO_LARGE": _("A file is larger than 5 MB."),
        "FILE_TYPE_NOT_ALLOWED": _("Only JPEG, PNG or WebP photos and PDF documents can be "
                                   "added."),
        "TOO_MANY": _("At most 5 files can be added."),
        "INVALID_STATE": _("This can no longer be done: the request has moved on."),
        "MERCHANT_SUSPENDED": _("This merchant is not taking requests at the moment."),
    }
    return known.get(str(exc.code), _("The request could not be accepted. Please check the "
                                      "form and try again."))
