"""The codes of the webhooks domain's user errors, the URL checks' refusals included."""

from __future__ import annotations

from qrefund.platform.errors import ErrorCode


class WebhookError(ErrorCode):
    INVALID_EVENT_TYPE = "INVALID_EVENT_TYPE", ("Not an event type, a family (refund_case.*) "
                                                "or *.")
    NO_TENANT = "NO_TENANT", "Only a tenant's API key can own webhook endpoints."
    DUPLICATE_ENDPOINT = "DUPLICATE_ENDPOINT", "An active endpoint already has this url."
    ENDPOINT_LIMIT_REACHED = "ENDPOINT_LIMIT_REACHED", ("The tenant already has the most "
                                                        "active endpoints allowed.")
    INVALID_OVERLAP = "INVALID_OVERLAP", ("overlapHours (how long the old signing secret stays "
                                          "valid) is out of range.")
    ENDPOINT_ACTIVE = "ENDPOINT_ACTIVE", "The endpoint is already active."
    ENDPOINT_DISABLED = "ENDPOINT_DISABLED", ("The endpoint is disabled (so it cannot be "
                                              "disabled again, nor redeliver until enabled).")
    DELIVERY_IN_PROGRESS = "DELIVERY_IN_PROGRESS", ("The delivery is pending or being sent: "
                                                    "wait for its outcome.")
    INVALID_URL = "INVALID_URL", ("Not a usable webhook url (scheme, host, credentials or "
                                  "#fragment).")
    UNRESOLVABLE_HOST = "UNRESOLVABLE_HOST", "The url's host does not resolve in DNS."
    PRIVATE_TARGET = "PRIVATE_TARGET", ("The url resolves to a non-public address (private, "
                                        "loopback, link-local...).")
