"""The ``webhook_endpoint.*`` and ``webhook_delivery.*`` events (not public)."""

from __future__ import annotations

from qrefund.platform.outbox.catalogue import INT, TEXT, UUID, Family, nullable

WEBHOOK_ENDPOINT_EVENTS = Family(
    name="webhook_endpoint", aggregate_type="webhook_endpoint", public=False,
    description="A webhook endpoint (never its secret).",
    events={"created": "An endpoint was created; adds `url` and `eventTypes`.",
            "disabled": "An endpoint was disabled; adds `reason`.",
            "enabled": "An endpoint was enabled again.",
            "secret_rotated": "The signing secret was rotated; the old one keeps verifying "
                              "for `overlapSeconds`."},
    snapshot={"endpointId": UUID, "status": TEXT},
    extra={"merchantId": UUID, "url": TEXT, "eventTypes": {"type": "array", "items": TEXT},
           "reason": nullable(TEXT), "overlapSeconds": INT},
)

WEBHOOK_DELIVERY_EVENTS = Family(
    name="webhook_delivery", aggregate_type="webhook_delivery", public=False,
    description="One delivery of an event to an endpoint.",
    events={"redelivery_requested": "An operator asked for a delivery to be sent again."},
    snapshot={"deliveryId": UUID, "endpointId": UUID, "eventId": UUID},
)
