"""Outbox handlers: which webhook jobs a committed event starts (pure, no I/O)."""

from __future__ import annotations

from qrefund.jobs.registry import EventMessage, JobSpec, on_event
from qrefund.platform.webhooks.jobs import DELIVER, DELIVERY_QUEUE, FAN_OUT
from qrefund.platform.webhooks.service import PUBLIC_EVENT_FAMILIES


@on_event(*(f"{family}.*" for family in PUBLIC_EVENT_FAMILIES))
def fan_out_to_endpoints(message: EventMessage) -> list[JobSpec]:
    # Whether any endpoint subscribes is the job's question: handlers do no I/O.
    return [JobSpec(DELIVERY_QUEUE, FAN_OUT, (str(message.tenant_id), str(message.event_id)))]


@on_event("webhook_delivery.redelivery_requested")
def send_redelivery(message: EventMessage) -> list[JobSpec]:
    delivery_id = str(message.payload.get("deliveryId") or message.aggregate_id)
    return [JobSpec(DELIVERY_QUEUE, DELIVER, (str(message.tenant_id), delivery_id))]
