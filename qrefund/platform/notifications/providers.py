"""The one table of notification providers.

A domain whose consumers are told about its events implements
:class:`~qrefund.platform.notifications.provider.Provider` next to its own code
and is listed in :data:`PROVIDERS` below; that is the only registration (nothing
registers itself on import). The notification jobs read this table to know which
events start a message.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from qrefund.platform.complaints.notifications import ComplaintNotifications
from qrefund.platform.notifications.provider import Provider
from qrefund.platform.refunds.notifications import RefundCaseNotifications

_TYPE = re.compile(r"[a-z][a-z_]{0,23}")  # the notifications.subject_type column: 24


class ProviderRegistry:
    """Providers by subject type; each event type belongs to at most one."""

    def __init__(self, *providers: Provider) -> None:
        self._by_type: dict[str, Provider] = {}
        self._by_event: dict[str, Provider] = {}
        for provider in providers:
            self.register(provider)

    def register(self, provider: Provider) -> None:
        """Add a provider; refuses a subject type or an event type already taken, and a
        kind its templates do not have (it would fail only when a message is due)."""
        if not _TYPE.fullmatch(provider.type):
            raise ValueError(f"{provider.type!r}: 1 to 24 lowercase letters and underscores")
        if provider.type in self._by_type:
            raise ValueError(f"subject type {provider.type!r} is already registered")
        taken = sorted(set(provider.kinds) & set(self._by_event))
        if taken:
            raise ValueError(f"event types with a provider already: {taken}")
        unknown = sorted(set(provider.kinds.values()) - set(provider.templates.kinds))
        if unknown:
            raise ValueError(f"{provider.type}: no templates for {unknown}")
        self._by_type[provider.type] = provider
        self._by_event.update(dict.fromkeys(provider.kinds, provider))

    def unregister(self, subject_type: str) -> None:
        provider = self._by_type.pop(subject_type, None)
        if provider is not None:
            for event_type in provider.kinds:
                self._by_event.pop(event_type, None)

    def __getitem__(self, subject_type: str) -> Provider:
        return self._by_type[subject_type]

    def get(self, subject_type: str) -> Provider | None:
        return self._by_type.get(subject_type)

    def __iter__(self) -> Iterator[Provider]:
        return iter(list(self._by_type.values()))

    def for_event(self, event_type: str) -> tuple[Provider, str] | None:
        """The provider of an event type the consumer is told about, and its kind."""
        provider = self._by_event.get(event_type)
        return (provider, provider.kinds[event_type]) if provider is not None else None


PROVIDERS = ProviderRegistry(
    RefundCaseNotifications(),
    ComplaintNotifications(),
)
