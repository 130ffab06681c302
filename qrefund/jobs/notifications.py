"""The consumer-notification job: one run per event a consumer is told about.

It stores the messages (once), sends those not yet sent through the notifier
adapters, and records each outcome. When a message fails the job raises after
recording it, so RQ retries the job (a rerun sends only what is still unsent)
and, once retries are spent, the job sits in RQ's failed registry where
``qrefund`` operators can see and requeue it.
"""

from __future__ import annotations

import logging
import uuid

from qrefund.jobs import runtime
from qrefund.jobs.registry import QUEUE_NOTIFICATIONS, EventMessage, Handler, JobSpec, on_event
from qrefund.platform.notifications import service
from qrefund.platform.notifications.models import REFUND_CASE
from qrefund.platform.notifications.notifier import (
    Notifier,
    NotifierError,
    OutgoingMessage,
    notifiers_for,
)
from qrefund.platform.notifications.provider import Provider
from qrefund.platform.notifications.providers import PROVIDERS

log = logging.getLogger(__name__)

NOTIFY = "qrefund.jobs.notifications.notify_consumer"


class NotificationFailed(Exception):
    """Raised (after recording) so RQ retries the job or lists it as failed."""


async def notify_consumer(tenant_id: str, event_id: str) -> int:
    settings = runtime.settings()
    db = runtime.database()
    tid, eid = uuid.UUID(tenant_id), uuid.UUID(event_id)
    async with db.unit_of_work(runtime.job_scope(tid, "notifications")) as uow:
        pending = await service.prepare(uow, tid, eid, public_base_url=settings.public_base_url)
    if not pending:
        return 0
    adapters = notifiers_for(settings)
    failures: list[str] = []
    for item in pending:
        notifier: Notifier = adapters[item.channel]
        message_id: str | None = None
        error: str | None = None
        try:
            message_id = await notifier.send(OutgoingMessage(
                to=item.recipient, subject=item.subject, body=item.body,
                to_masked=item.recipient_masked))
        except NotifierError as exc:
            error = str(exc)
        async with db.unit_of_work(runtime.job_scope(tid, "notifications")) as uow:
            await service.record_outcome(uow, item, provider=notifier.provider,
                                         message_id=message_id, error=error)
        log.info("notification %s (tenant %s, %s %s, %s to %s): %s", item.notification_id,
                 tid, item.subject_type, item.subject_id, item.channel.value,
                 item.recipient_masked, error or "sent")
        if error:
            failures.append(f"{item.channel.value}: {error}")
    if failures:
        raise NotificationFailed("; ".join(failures))
    return len(pending)


# -- outbox handlers: which jobs a committed event starts (pure, no I/O) --------------

# A failed send is retried after these waits (seconds), then lands in the failed registry.
RETRY_INTERVALS = (60, 300, 1800)


def watch(provider: Provider) -> Handler:
    """Register the handler that starts a notification job for each event ``provider``
    tells consumers about (called below for every provider of the table). The handler
    looks the provider up when an event comes: one no longer in the table starts
    nothing."""
    subject_type = provider.type

    def handler(message: EventMessage) -> list[JobSpec]:
        watched = PROVIDERS.get(subject_type)
        if watched is None or message.type not in watched.kinds:
            return []
        # The failed-jobs list shows a refund case as the case; other subjects by name.
        about = ({"case_id": str(message.aggregate_id)} if subject_type == REFUND_CASE
                 else {"subject": f"{subject_type}:{message.aggregate_id}"})
        return [JobSpec(
            QUEUE_NOTIFICATIONS, NOTIFY, (str(message.tenant_id), str(message.event_id)),
            retry_intervals=RETRY_INTERVALS, meta={"tenant_id": str(message.tenant_id), **about},
        )]

    handler.__name__ = handler.__qualname__ = f"on_{subject_type}_event"
    return on_event(*provider.kinds)(handler)


for _provider in PROVIDERS:
    watch(_provider)
