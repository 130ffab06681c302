"""Consumer notifications for refund case events: render, store, record the outcome.

A case event (``refund_case.submitted`` ...) gives one notification per contact
channel the consumer left (e-mail, phone). The message is rendered once and
stored with the masked recipient *before* it is sent, so what the consumer got
is on record whatever happens next; the (event, channel) unique key makes a
job that runs twice send once. Sending happens outside the transaction (the
job calls the notifier, then :func:`record_outcome`).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.numbers import format_currency
from sqlalchemy.exc import IntegrityError

from qrefund.platform import masking
from qrefund.platform.clock import utcnow
from qrefund.platform.crypto import key_ring
from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import InvalidState, NotFound
from qrefund.platform.money import Money
from qrefund.platform.notifications import templates
from qrefund.platform.notifications.models import Channel, Notification, NotificationStatus
from qrefund.platform.notifications.repository import NotificationRepository
from qrefund.platform.outbox.models import DomainEvent
from qrefund.platform.outbox.service import event_by_id
from qrefund.platform.pagination import Page, encode_cursor, parse_cursor
from qrefund.platform.refunds.models import (
    CONTACT_EMAIL_PURPOSE,
    CONTACT_PHONE_PURPOSE,
    RefundCase,
)
from qrefund.platform.refunds.service import get_case
from qrefund.platform.roles import Permission
from qrefund.platform.transactions import service as transactions
from qrefund.platform.transactions.receipt import make_token
from qrefund.tenants.models import Tenant
from qrefund.tenants.service import get_tenant

log = logging.getLogger(__name__)

KIND_BY_EVENT = {f"refund_case.{kind}": kind for kind in templates.KINDS}
NOTIFY_EVENTS = tuple(KIND_BY_EVENT)

_S = NotificationStatus
TRANSITIONS = frozenset({(_S.PENDING, _S.SENT), (_S.PENDING, _S.FAILED),
                         (_S.FAILED, _S.SENT), (_S.FAILED, _S.FAILED)})


@dataclass(frozen=True)
class Outgoing:
    """A stored notification still to send, with the full address (never stored)."""

    tenant_id: uuid.UUID
    notification_id: uuid.UUID
    case_id: uuid.UUID
    channel: Channel
    recipient: str
    recipient_masked: str
    subject: str | None
    body: str


def locale_for(tenant: Tenant) -> str:
    return "zh-CN" if tenant.country == "CN" else "en"


def _when(raw: Any, tz: ZoneInfo) -> str:
    if not raw:
        return ""
    moment = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw))
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def context_for(event: DomainEvent, case: RefundCase, tenant: Tenant, link: str | None
                ) -> dict[str, Any]:
    """Template variables from the event (the case as it was then) and the merchant."""
    data = event.payload
    tz = ZoneInfo(tenant.timezone)
    currency = str(data.get("currency") or case.currency)
    minor = int(data.get("refundedMinor") or data.get("amountMinor") or case.requested_minor)
    babel_locale = "zh_CN" if locale_for(tenant) == "zh-CN" else "en"
    return {
        "merchant": tenant.name,
        "case_number": str(data.get("caseNumber") or case.case_number),
        "amount": format_currency(Money(minor, currency).decimal, currency, locale=babel_locale),
        "review_due": _when(data.get("reviewDueAt") or case.review_due_at, tz),
        "new_due": _when(data.get("newDueAt"), tz),
        "note": str(data.get("note") or ""),
        "link": link,
    }


def _contacts(case: RefundCase) -> list[tuple[Channel, str, str]]:
    """(channel, address, masked) for each contact the consumer left."""
    ring = key_ring()
    found: list[tuple[Channel, str, str]] = []
    for channel, value, purpose, mask in (
        (Channel.EMAIL, case.contact_email_enc, CONTACT_EMAIL_PURPOSE, masking.email),
        (Channel.SMS, case.contact_phone_enc, CONTACT_PHONE_PURPOSE, masking.phone),
    ):
        if not value:
            continue
        try:
            address = ring.decrypt(value, purpose)
        except Exception:  # a corrupt value must not stop the other channel
            log.exception("case %s: cannot decrypt the %s contact", case.id, channel.value)
            continue
        found.append((channel, address, mask(address)))
    return found


async def _consumer_link(uow: UnitOfWork, case: RefundCase, base_url: str) -> str | None:
    """The consumer's receipt link; none when the payment or its receipt is gone."""
    try:
        txn = await transactions.get(uow, case.tenant_id, case.transaction_id)
    except NotFound:
        return None
    if txn.receipt_revoked_at is not None:
        return None
    token = make_token(key_ring(), txn.tenant_id, txn.id, txn.receipt_token_version)
    return f"{base_url.rstrip('/')}/r/{token}"


async def _case_of(uow: UnitOfWork, event: DomainEvent) -> RefundCase | None:
    """The event's case; a case that is gone (or out of reach) gets no message."""
    try:
        return await get_case(uow, event.tenant_id, event.aggregate_id)
    except NotFound:
        return None


async def prepare(
    uow: UnitOfWork, tenant_id: uuid.UUID, event_id: uuid.UUID, *, public_base_url: str
) -> list[Outgoing]:
    """Store the event's notifications (once) and return those not yet sent.

    An event that is absent, outside the scope or of a kind the consumer is not told
    about gives nothing to send.
    """
    event = await event_by_id(uow, tenant_id, event_id)
    kind = KIND_BY_EVENT.get(event.type) if event is not None else None
    if event is None or kind is None:
        return []
    case = await _case_of(uow, event)
    contacts = _contacts(case) if case is not None else []
    if case is None or not contacts:
        return []
    tenant = await get_tenant(uow, tenant_id)
    rendered = templates.render(
        kind, locale_for(tenant),
        context_for(event, case, tenant, await _consumer_link(uow, case, public_base_url)))
    repo = NotificationRepository(uow)
    stored = await repo.by_channel(tenant_id, event_id)
    out: list[Outgoing] = []
    for channel, address, masked in contacts:
        note = stored.get(channel.value)
        if note is None:
            note = await _insert(uow, repo, Notification(
                tenant_id=tenant_id, case_id=case.id, event_id=event.id, event_type=event.type,
                channel=channel.value, recipient_masked=masked, locale=rendered.locale,
                template=rendered.template,
                subject=rendered.subject if channel is Channel.EMAIL else None,
                body=rendered.email if channel is Channel.EMAIL else rendered.sms,
            ))
        if note is None or note.status == NotificationStatus.SENT.value:
            continue
        out.append(Outgoing(tenant_id=tenant_id, notification_id=note.id, case_id=case.id,
                            channel=channel, recipient=address, recipient_masked=masked,
                            subject=note.subject, body=note.body))
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


async def list_for_case(
    uow: UnitOfWork, tenant_id: uuid.UUID, case_id: uuid.UUID, *, first: int, after: str | None
) -> Page[Notification]:
    """Oldest first; the case must be in the caller's scope (else *not found*, the same
    answer for another tenant's case as for a missing one)."""
    uow.scope.require(Permission.READ)
    try:
        await get_case(uow, tenant_id, case_id)
    except NotFound:
        raise NotFound("refund case not found", field=["caseId"]) from None
    last = parse_cursor(after, uuid.UUID)[0] if after else None
    rows = await NotificationRepository(uow).for_case(tenant_id, case_id, first=first,
                                                      after=last)
    return Page.from_rows(rows, first=first, after=after, cursor=lambda n: encode_cursor([n.id]))
