# ruff: noqa: RUF001 - the zh-CN texts use full-width punctuation on purpose
"""The notification seam: a provider other than refund cases, defined here (a complaint
ticket whose consumer left an e-mail address), through the real job, worker, SMTP
server and database.

Refusals first (what the provider table and the templates do not take), then a
ticket event reaching its consumer and stored under the ticket, never as a refund
case's message.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from qrefund.graphql_schema import ids
from qrefund.jobs import notifications as notification_jobs
from qrefund.jobs.runtime import job_scope
from qrefund.platform import masking
from qrefund.platform.db import Database, UnitOfWork
from qrefund.platform.errors import NotFound
from qrefund.platform.notifications import service
from qrefund.platform.notifications.models import Channel, Notification
from qrefund.platform.notifications.provider import Contact
from qrefund.platform.notifications.providers import PROVIDERS, ProviderRegistry
from qrefund.platform.notifications.templates import Templates
from qrefund.platform.outbox.models import DomainEvent
from qrefund.platform.outbox.service import record_event
from qrefund.platform.refunds.notifications import RefundCaseNotifications
from qrefund.tenants.models import Tenant
from tests.notifications.conftest import Mailbox
from tests.support.graphql import ok
from tests.support.world import World
from tests.webhooks.support import Jobs, message_of, owner_rows

# Writes made-up outbox events to exercise delivery itself.
pytestmark = pytest.mark.synthetic_events

TICKET = "test_ticket"
EMAIL = "consumer.zhao@example.com"
HANDLERS = "qrefund.jobs.notifications"
TEXTS = {
    "zh-CN": {"opened.subject": "投诉已受理（{{ number }}）",
              "opened.email": "您在{{ merchant }}的投诉 {{ number }} 已受理。",
              "opened.sms": "【{{ merchant }}】投诉{{ number }}已受理。"},
    "en": {"opened.subject": "Complaint {{ number }} received",
           "opened.email": "{{ merchant }} received complaint {{ number }}.",
           "opened.sms": "{{ merchant }}: complaint {{ number }} received."},
}
LINK = {"zh-CN": "{% if link %}\n\n{{ link }}{% endif %}",
        "en": "{% if link %}\n\nFollow it: {{ link }}{% endif %}"}
SIGNATURE = {"zh-CN": "\n\n—— {{ merchant }}", "en": "\n\n-- {{ merchant }}"}


@dataclass
class Ticket:
    tenant_id: uuid.UUID
    id: uuid.UUID
    number: str
    email: str | None


class TicketNotifications:
    """A complaint ticket as the notifier sees it; tickets live in memory."""

    type = TICKET
    noun = "ticket"
    kinds = {f"{TICKET}.opened": "opened"}
    templates = Templates(TICKET, TEXTS, link=LINK, signature=SIGNATURE)

    def __init__(self) -> None:
        self.tickets: dict[tuple[uuid.UUID, uuid.UUID], Ticket] = {}

    async def load(self, uow: UnitOfWork, tenant_id: uuid.UUID, ticket_id: uuid.UUID
                   ) -> Ticket | None:
        found = self.tickets.get((tenant_id, ticket_id))
        return found if found is not None and uow.scope.allows(tenant_id) else None

    def contacts(self, ticket: Ticket) -> list[Contact]:
        return [Contact(Channel.EMAIL, ticket.email, masking.email(ticket.email))
                ] if ticket.email else []

    async def link(self, uow: UnitOfWork, ticket: Ticket, base_url: str) -> str | None:
        return f"{base_url}/t/{ticket.number}"

    def context(self, event: DomainEvent, ticket: Ticket, tenant: Tenant, locale: str,
                link: str | None) -> dict[str, Any]:
        return {"merchant": tenant.name, "number": ticket.number, "link": link}


@pytest.fixture
def tickets() -> Iterator[TicketNotifications]:
    provider = TicketNotifications()
    PROVIDERS.register(provider)
    notification_jobs.watch(provider)
    yield provider
    PROVIDERS.unregister(TICKET)


def test_the_provider_table_refuses_clashes() -> None:
    # Given a table holding refund cases
    table = ProviderRegistry(RefundCaseNotifications())
    clashes = {
        "the same subject type": {"type": "refund_case"},
        "an event type another provider has": {"kinds": {"refund_case.approved": "opened"}},
        "a kind without templates": {"kinds": {f"{TICKET}.closed": "closed"}},
        "a type longer than its column": {"type": "t" * 25},
    }
    for why, changes in clashes.items():
        provider = TicketNotifications()
        for name, value in changes.items():
            setattr(provider, name, value)
        # When a provider with a clash is registered, then it is refused, and not kept
        with pytest.raises(ValueError):
            table.register(provider)
        assert [p.type for p in table] == ["refund_case"], why
        assert table.for_event("refund_case.approved") == (table["refund_case"], "approved")
    # (while a proper one is taken)
    table.register(TicketNotifications())
    assert table.for_event(f"{TICKET}.opened") == (table[TICKET], "opened")


def test_templates_missing_a_part_in_a_locale_are_refused() -> None:
    for locale, name in (("zh-CN", "opened.sms"), ("en", "opened.subject")):
        texts = {loc: {n: t for n, t in parts.items() if (loc, n) != (locale, name)}
                 for loc, parts in TEXTS.items()}
        with pytest.raises(ValueError, match=locale):
            Templates(TICKET, texts, link=LINK, signature=SIGNATURE)
    with pytest.raises(ValueError, match="zh-CN"):
        Templates(TICKET, TEXTS, link={"en": LINK["en"]}, signature=SIGNATURE)


async def _opened(db: Database, ticket: Ticket) -> DomainEvent:
    async with db.unit_of_work(job_scope(ticket.tenant_id, "test")) as uow:
        return await record_event(uow, tenant_id=ticket.tenant_id, type=f"{TICKET}.opened",
                                  aggregate_type=TICKET, aggregate_id=ticket.id,
                                  payload={"number": ticket.number})


async def test_a_ticket_event_reaches_its_consumer_and_is_stored_under_the_ticket(
    client: httpx.AsyncClient, db: Database, world: World, jobs: Jobs,
    smtp: tuple[Mailbox, int], owner_engine: Any, tickets: TicketNotifications,
) -> None:
    # Given a ticket of merchant A whose consumer left an e-mail address
    ticket = Ticket(world.merchant_a, uuid.uuid4(), "T-0042", EMAIL)
    tickets.tickets[(ticket.tenant_id, ticket.id)] = ticket
    event = await _opened(db, ticket)
    # When its event is relayed: one notification job, named after the ticket
    (spec,) = jobs.handle(message_of(event), HANDLERS)
    assert spec.meta == {"tenant_id": str(ticket.tenant_id),
                         "subject": f"{TICKET}:{ticket.id}"}
    jobs.enqueue(spec, message_of(event))
    await jobs.run()

    # Then the consumer got the ticket's message, with the ticket's link
    ((recipients, mail),) = smtp[0].messages
    assert recipients == [EMAIL] and mail["Subject"] == "投诉已受理（T-0042）"
    assert "https://refunds.example.com/t/T-0042" in mail.get_content()
    # And it is stored under the ticket, not as a refund case's message
    (row,) = owner_rows(owner_engine, Notification)
    assert (row.subject_type, row.subject_id) == (TICKET, ticket.id)
    assert (row.template, row.status, row.recipient_masked) == (
        f"{TICKET}.opened", "SENT", "c***@example.com")
    async with db.unit_of_work(job_scope(ticket.tenant_id), readonly=True) as uow:
        page = await service.list_for_subject(uow, TICKET, ticket.tenant_id, ticket.id,
                                              first=10, after=None)
        assert [(n.id, n.case_id) for n in page.items] == [(row.id, None)]
    # The refund API does not serve it as a refund case's Notification
    gid = ids.encode("Notification", ticket.tenant_id, row.id)
    data = await ok(client, "query($id: ID!) { node(id: $id) { id } }", {"id": gid},
                    key=world.key("a"))
    assert data["node"] is None


async def test_another_tenants_ticket_is_not_found_and_gets_no_message(
    db: Database, world: World, owner_engine: Any, tickets: TicketNotifications,
) -> None:
    # Given merchant A's ticket and its event
    ticket = Ticket(world.merchant_a, uuid.uuid4(), "T-0043", EMAIL)
    tickets.tickets[(ticket.tenant_id, ticket.id)] = ticket
    event = await _opened(db, ticket)
    # When merchant B's job prepares it, or lists the ticket's messages
    async with db.unit_of_work(job_scope(world.merchant_b)) as uow:
        outgoing = await service.prepare(uow, ticket.tenant_id, event.id,
                                         public_base_url="https://x")
        with pytest.raises(NotFound, match="ticket not found"):
            await service.list_for_subject(uow, TICKET, ticket.tenant_id, ticket.id,
                                           first=10, after=None)
    # Then nothing is sent or stored
    assert outgoing == [] and owner_rows(owner_engine, Notification) == []
