"""Outbox handler: refund case events that the consumer is told about."""

from __future__ import annotations

from qrefund.jobs.registry import QUEUE_NOTIFICATIONS, EventMessage, JobSpec, on_event
from qrefund.platform.notifications.jobs import NOTIFY
from qrefund.platform.notifications.service import NOTIFY_EVENTS

# A failed send is retried after these waits (seconds), then lands in the failed registry.
RETRY_INTERVALS = (60, 300, 1800)


@on_event(*NOTIFY_EVENTS)
def notify_consumer(message: EventMessage) -> list[JobSpec]:
    return [JobSpec(
        QUEUE_NOTIFICATIONS, NOTIFY, (str(message.tenant_id), str(message.event_id)),
        retry_intervals=RETRY_INTERVALS,
        meta={"tenant_id": str(message.tenant_id), "case_id": str(message.aggregate_id)},
    )]
