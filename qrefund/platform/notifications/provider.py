"""What a domain implements to have its consumers notified: the :class:`Provider` seam.

The notification domain stores, sends and records messages; a provider says, for
one subject type (refund cases, later complaint tickets), which of its events a
consumer is told about and with which template, who to contact, the consumer's
link and the template variables. Providers are listed in one table,
:data:`qrefund.platform.notifications.providers.PROVIDERS`; nothing registers on
import. A provider's events carry the subject's id as their aggregate id.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from qrefund.platform import masking
from qrefund.platform.crypto import key_ring
from qrefund.platform.notifications.models import Channel
from qrefund.platform.notifications.templates import Templates

if TYPE_CHECKING:
    from qrefund.platform.db import UnitOfWork
    from qrefund.platform.outbox.models import DomainEvent
    from qrefund.tenants.models import Tenant

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Contact:
    """Where one message goes: the full address (never stored) and how it is shown."""

    channel: Channel
    address: str
    masked: str


class Provider(Protocol):
    """The pieces of a consumer message that come from its subject."""

    # The ``subject_type`` of its messages (at most 24 characters).
    type: str
    # What the subject is called in a *not found* answer ("refund case").
    noun: str
    # Event types the consumer is told about, and the template kind of each.
    kinds: Mapping[str, str]
    # The subject's messages; every kind above must be one of them.
    templates: Templates

    async def load(self, uow: UnitOfWork, tenant_id: uuid.UUID, subject_id: uuid.UUID
                   ) -> Any | None:
        """The subject in the unit's scope; None when it is gone or out of reach."""
        ...

    def contacts(self, subject: Any) -> list[Contact]:
        """Every contact the consumer left (none: no message)."""
        ...

    async def link(self, uow: UnitOfWork, subject: Any, base_url: str) -> str | None:
        """Where the consumer follows the subject (None: no link in the message)."""
        ...

    def context(self, event: DomainEvent, subject: Any, tenant: Tenant, locale: str,
                link: str | None) -> dict[str, Any]:
        """The template variables: the event says how the subject was then."""
        ...


_MASKS = {Channel.EMAIL: masking.email, Channel.SMS: masking.phone}


def decrypt_contacts(what: str, encrypted: Iterable[tuple[Channel, str | None, str]]
                     ) -> list[Contact]:
    """Contacts from (channel, encrypted address or None, encryption purpose). A value
    that does not decrypt is logged (``what`` names the subject, never the address)
    and left out, so it cannot stop the other channels."""
    ring, found = key_ring(), []
    for channel, value, purpose in encrypted:
        if not value:
            continue
        try:
            address = ring.decrypt(value, purpose)
        except Exception:
            log.exception("%s: cannot decrypt the %s contact", what, channel.value)
            continue
        found.append(Contact(channel, address, _MASKS[channel](address)))
    return found
