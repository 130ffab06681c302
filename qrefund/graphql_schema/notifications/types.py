"""GraphQL type for consumer notifications."""

from __future__ import annotations

from datetime import datetime

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.relay import Node
from qrefund.platform.notifications.models import Channel, Notification, NotificationStatus

NotificationChannel = strawberry.enum(Channel, name="NotificationChannel")
NotificationStatusEnum = strawberry.enum(NotificationStatus, name="NotificationStatus")


@strawberry.type(name="Notification")
class NotificationType(Node):
    case_id: strawberry.ID
    event_type: str
    channel: NotificationChannel  # type: ignore[valid-type]
    recipient: str = strawberry.field(description="Masked: the full address stays encrypted.")
    locale: str
    template: str
    subject: str | None
    body: str
    status: NotificationStatusEnum  # type: ignore[valid-type]
    provider: str | None
    attempts: int
    error: str | None
    sent_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, n: Notification) -> NotificationType:
        """A refund case's message (the type's ``caseId`` is required): messages about
        other subjects are not served as this type."""
        if n.case_id is None:
            raise ValueError(f"notification {n.id} is about a {n.subject_type}")
        return cls(
            id=ids.encode("Notification", n.tenant_id, n.id),
            case_id=ids.encode("RefundCase", n.tenant_id, n.case_id), event_type=n.event_type,
            channel=Channel(n.channel), recipient=n.recipient_masked, locale=n.locale,
            template=n.template, subject=n.subject, body=n.body,
            status=NotificationStatus(n.status), provider=n.provider, attempts=n.attempts,
            error=n.error, sent_at=n.sent_at, created_at=n.created_at,
        )
