"""API keys already checked by this process, reused for a few seconds.

A request with a cached key skips the key look-up and the look-up scope's
``set_config``: its unit starts in the caller's scope at once. What makes that safe:

* An entry is used for at most ``QREFUND_API_KEY_CACHE_SECONDS`` (and never past
  the key's ``expires_at``); the presented secret is checked against the stored hash
  on every request, as on a look-up. In the second half of an entry's life the first
  request that finds it looks the key up again (and puts what it finds), while the
  others keep using the entry: a key never expires under load with every request in
  flight looking it up at once (in-process, 16 keys under 16 concurrent ``node(id)``
  reads, one expiry made about 13 look-ups a key, 200 at once, a tenth of all
  requests, and held up every request in flight).
* Revocations and tenant changes (a merchant created, suspended, reactivated or
  closed changes what an agency key reaches or whether a key works) are announced
  after commit on the ``qrefund:auth`` pub/sub channel
  (:mod:`qrefund.tenants.revocation`). Every API process listens there through its
  hub and empties its cache, so a revoked key is refused everywhere within the
  time a pub/sub message takes. The process that made the change also empties
  its own cache synchronously, before its response goes out.
* The cache works only while its process listens: until the subscription is
  confirmed, and after the hub reports it may have missed messages (a reconnection),
  every request looks its key up. Without Redis (tests without the app's lifespan,
  scripts) nothing is cached. A change made while Redis is unreachable reaches a
  process at the latest when its entries expire.
"""

from __future__ import annotations

import hmac
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from qrefund.platform.clock import utcnow
from qrefund.platform.scope import TenantScope
from qrefund.tenants.revocation import AUTH_CHANNEL, is_auth_notice

MAX_ENTRIES = 10_000


@dataclass
class CachedKey:
    secret_hash: str
    scope: TenantScope
    expires_at: datetime | None
    last_used_at: datetime | None
    until: float  # time.monotonic() after which the entry is not used
    refresh_at: float  # time.monotonic() after which one request looks the key up again
    refreshing: bool = False


class KeyCache:
    """Per process: key id -> what its last look-up found (see the module docstring)."""

    channels = (AUTH_CHANNEL,)

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._entries: dict[uuid.UUID, CachedKey] = {}
        # Is the process hearing AUTH_CHANNEL right now? (set by listen_while)
        self._listening: Callable[[], bool] = lambda: False

    def listen_while(self, listening: Callable[[], bool]) -> None:
        """Use entries only while ``listening()`` (the hub's subscription is live)."""
        self._listening = listening

    @property
    def enabled(self) -> bool:
        return self.seconds > 0 and self._listening()

    def get(self, key_id: uuid.UUID, secret_hash: str) -> CachedKey | None:
        """The entry of a key whose secret matches, still fresh and unexpired; else None.
        None also for the first request past the entry's refresh time: it looks the key
        up again (and puts what it finds) while the others keep using the entry."""
        now = time.monotonic()
        entry = self._valid(key_id, secret_hash, now)
        if entry is None:
            return None
        if not entry.refreshing and now > entry.refresh_at:
            entry.refreshing = True  # this request looks it up; the others keep the entry
            return None
        return entry

    def holds(self, key_id: uuid.UUID, secret_hash: str) -> bool:
        """Whether the key is cached with this secret (a look that claims no refresh)."""
        return self._valid(key_id, secret_hash, time.monotonic()) is not None

    def _valid(self, key_id: uuid.UUID, secret_hash: str, now: float) -> CachedKey | None:
        if not self.enabled:
            return None
        entry = self._entries.get(key_id)
        if entry is None:
            return None
        if now > entry.until or (
                entry.expires_at is not None and entry.expires_at <= utcnow()):
            self._entries.pop(key_id, None)
            return None
        if not hmac.compare_digest(entry.secret_hash, secret_hash):
            return None
        return entry

    def put(self, key_id: uuid.UUID, secret_hash: str, scope: TenantScope,
            expires_at: datetime | None, last_used_at: datetime | None) -> None:
        if not self.enabled:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        now = time.monotonic()
        self._entries[key_id] = CachedKey(secret_hash, scope, expires_at, last_used_at,
                                          now + self.seconds, now + self.seconds / 2)

    def clear(self) -> None:
        self._entries.clear()

    # -- pub/sub (qrefund.platform.outbox.hub.Listener) and local notices ------------------

    def deliver(self, channel: str, data: bytes) -> None:
        if is_auth_notice(data):
            self.clear()

    def lost(self, channel: str) -> None:
        """Messages may have been missed: forget everything (it is re-read on demand)."""
        self.clear()

    async def publish(self, channel: str, message: str) -> None:
        """The process's own notices (installed in :mod:`qrefund.platform.outbox.notices`):
        a change made here clears this cache before the response, not when Redis echoes it."""
        if channel == AUTH_CHANNEL and is_auth_notice(message):
            self.clear()
