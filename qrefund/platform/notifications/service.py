"""Consumer notifications: render, store, record the outcome.

An event a :class:`~qrefund.platform.notifications.provider.Provider` tells
consumers about (``refund_case.submitted`` ...) gives one notification per
contact the consumer left on its subject (e-mail, phone). The message is
rendered once and stored with the masked recipient *before* it is sent, so what
the consumer got is on record whatever happens next; the (event, channel) unique
key makes a job that runs twice send once. Sending happens outside the
transaction (the job calls the notifier, then :func:`record_outcome`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from qrefund.platform.clock import utcnow
from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import InvalidState, NotFound
from qrefund.platform.notifications.models import (
    REFUND_CASE,
    Channel,
    Notification,
    NotificationStatus,
)
from qrefund.platform.notifications.providers import PROVIDERS
from qrefund.platform.notifications.repository import NotificationRepository
from qrefund.platform.outbox.service import event_by_id
from qrefund.platform.pagination import Page, encode_cursor, parse_cursor
from qrefund.platform.roles import Permission
from qrefund.tenants.models import Tenant
from qrefund.tenants.service import get_tenant

log = logging.getLogger(__name__)

_S = NotificationStatus
TRANSITIONS = frozenset({(_S.PENDING, _S.SENT), (_S.PENDING, _S.FAILED),
                         (_S.FAILED, _S.SENT), (_S.FAILED, _S.FAILED)})


@dataclass(frozen=True)
class Outgoing:
    """A stored notification still to send, with the full address (never stored)."""

    tenant_id: uuid.UUID
    notification_id: uuid.UUID
    subject_type: str
    subject_id: uuid.UUID
    channel: Channel
    recipient: str
    recipient_masked: str
    subject: str | None
    body: str


def locale_for(tenant: Tenant) -> str:
    return "zh-CN" if tenant.country == "CN" else "en"


async def prepare(
    uow: UnitOfWork, tenant_id: uuid.UUID, event_id: uuid.UUID, *, public_base_url: str
) -> list[Outgoing]:
    """Store the event's notifications (once) and return those not yet sent.

    An event that is absent, outside the scope or of a kind the consumer is not told
    about, or whose subject is gone or left no contact, gives nothing to send.
    """
    event = await event_by_id(uow, tenant_id, event_id)
    found = PROVIDERS.for_event(event.type) if event is not None else None
    if event is None or found is None:
        return []
    provider, kind = found
    subject = await provider.load(uow, event.tenant_id, event.aggregate_id)
    contacts = provider.contacts(subject) if subject is not None else []
    if subject is None or not contacts:
        return []
    tenant = await get_tenant(uow, tenant_id)
    locale = locale_for(tenant)
    link = await provider.link(uow, subject, public_base_url)
    rendered = provider.templates.render(
        kind, locale, provider.context(event, subject, tenant, locale, link))
    repo = NotificationRepository(uow)
    stored = await repo.by_channel(tenant_id, event_id)
    out: list[Outgoing] = []
    for contact in contacts:
        email = contact.channel is Channel.EMAIL
        note = stored.get(contact.channel.value)
        if note is None:
            note = await _insert(uow, repo, Notification(
                tenant_id=tenant_id, subject_type=provider.type, subject_id=event.aggregate_id,
                event_id=event.id, event_type=event.type, channel=contact.channel.value,
                recipient_masked=contact.masked, locale=rendered.locale,
                template=rendered.template, subject=rendered.subject if email else None,
                body=rendered.email if email else rendered.sms,
            ))
        if note is None or note.status == NotificationStatus.SENT.value:
            continue
        out.append(Outgoing(
            tenant_id=tenant_id, notification_id=note.id, subject_type=provider.type,
            subject_id=event.aggregate_id, channel=contact.channel, recipient=contact.address,
            recipient_masked=contact.masked, subject=note.subject, body=note.body))
    return out


async def _insert(uow: UnitOfWork, repo: NotificationRepository, note: Notification
                  ) -> Notification | None:
    try:
        async with uow.savepoint():
            repo.add(note)
            await uow.flush()
    except IntegrityError:  # a concurrent run stored it first; that run sends it
        return None
    return note


async def record_outcome(
    uow: UnitOfWork, outgoing: Outgoing, *, provider: str, message_id: str | None,
    error: str | None,
) -> Notification:
    repo = NotificationRepository(uow)
    note = await repo.require(outgoing.tenant_id, outgoing.notification_id,
                              what="notification", field=None)
    target = NotificationStatus.SENT if error is None else NotificationStatus.FAILED
    if (NotificationStatus(note.status), target) not in TRANSITIONS:
        raise InvalidState(f"notification is already {note.status}")
    note.status = target.value
    note.attempts += 1
    note.provider = provider
    if error is None:
        note.sent_at = utcnow()
        note.provider_message_id = message_id
        note.error = None
    else:
        note.error = error[:500]
    repo.add(note)
    return note


async def get(uow: UnitOfWork, tenant_id: uuid.UUID, notification_id: uuid.UUID
              ) -> Notification | None:
    """One message in scope (None: absent or another tenant's)."""
    uow.scope.require(Permission.READ)
    return await NotificationRepository(uow).get(tenant_id, notification_id)


async def list_for_subject(
    uow: UnitOfWork, subject_type: str, tenant_id: uuid.UUID, subject_id: uuid.UUID, *,
    first: int, after: str | None, field: Sequence[str] = ("subjectId",),
) -> Page[Notification]:
    """A subject's messages, oldest first; the subject must be in the caller's scope
    (else *not found* on ``field``, the same answer for another tenant's subject as
    for a missing one)."""
    uow.scope.require(Permission.READ)
    provider = PROVIDERS[subject_type]
    if await provider.load(uow, tenant_id, subject_id) is None:
        raise NotFound(f"{provider.noun} not found", field=field)
    last = parse_cursor(after, uuid.UUID)[0] if after else None
    rows = await NotificationRepository(uow).for_subject(tenant_id, subject_type, subject_id,
                                                         first=first, after=last)
    return Page.from_rows(rows, first=first, after=after, cursor=lambda n: encode_cursor([n.id]))


async def list_for_case(
    uow: UnitOfWork, tenant_id: uuid.UUID, case_id: uuid.UUID, *, first: int, after: str | None
) -> Page[Notification]:
    """A refund case's messages (GraphQL's ``notifications(caseId:)``)."""
    return await list_for_subject(uow, REFUND_CASE, tenant_id, case_id, first=first,
                                  after=after, field=["caseId"])


async def sent_to_receipt_holder(uow: UnitOfWork, subject_type: str, tenant_id: uuid.UUID,
                                 subject_id: uuid.UUID, *, first: int = 50
                                 ) -> list[Notification]:
    """The messages sent about a subject, oldest first, for the consumer's receipt page.

    For a receipt scope only; the caller (:mod:`qrefund.platform.consumer`) has checked
    that the subject is of the receipt's own payment.
    """
    uow.scope.require(Permission.READ_RECEIPT)
    rows = await NotificationRepository(uow).for_subject(tenant_id, subject_type, subject_id,
                                                         first=first, after=None)
    return rows[:first]
