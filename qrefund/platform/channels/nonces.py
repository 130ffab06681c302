"""Replay guard: the (sender, timestamp, nonce) of every accepted provider message.

WeChat Pay signs each response and notification over ``TIMESTAMP\\nNONCE\\nBODY``; the
timestamp bounds a message's life to :data:`wechatpay.MAX_CLOCK_SKEW`, and within that
window the nonce makes it unique. A message whose key was already accepted is a copy
(captured and sent again), refused whatever it says. Alipay's notifications carry a
``notify_id`` that plays the same part for its resends.

Storage follows the rate limiter's choice (``qrefund.platform.ratelimit``): with
``QREFUND_REDIS_URL`` set, ``SET key 1 NX EX ttl`` in Redis, shared by the API and every
worker process (a callback may reach one process and a copy another); without it (the
embedded one-process runtime) a dictionary in memory. Unlike the limiter the guard
fails *closed*: if Redis cannot be reached the message is refused, which is safe —
WeChat Pay and Alipay resend notifications, and a refused response means the payout
job asks again with the same ``out_refund_no``.

Keys are recorded only after a signature verified (a forger cannot burn a genuine
message's nonce); they hold protocol values only (key ids, timestamps, nonces, notify
ids: nothing personal, nothing secret).
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

from redis.asyncio import Redis

from qrefund.platform.config import Settings

_PREFIX = "qrefund:nonce:"


class NonceStore(Protocol):
    async def first_use(self, key: str, ttl: int) -> bool:
        """Record ``key`` for ``ttl`` seconds; False when it is already recorded.
        Raises :class:`NonceStoreUnavailable` when the store cannot answer."""
        ...

    async def forget(self, key: str) -> None:
        """Drop ``key`` (its message was refused or not processed after all)."""
        ...


class NonceStoreUnavailable(Exception):
    """The store could not say whether a nonce is new: treat the message as untrusted."""


class MemoryNonces:
    """In-process store (one process serves everything): key -> expiry (monotonic)."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}
        # Workers of the embedded runtime may run on other threads than the API's loop.
        self._lock = threading.Lock()

    async def first_use(self, key: str, ttl: int) -> bool:
        now = time.monotonic()
        with self._lock:
            if len(self._seen) > 1024:
                self._seen = {k: t for k, t in self._seen.items() if t > now}
            expires = self._seen.get(key)
            if expires is not None and expires > now:
                return False
            self._seen[key] = now + ttl
            return True

    async def forget(self, key: str) -> None:
        with self._lock:
            self._seen.pop(key, None)


class RedisNonces:
    """Shared store. A client per call: callbacks and provider answers are few, and a
    redis.asyncio connection is bound to the event loop that opened it (the API's
    loop and each job's loop differ)."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def first_use(self, key: str, ttl: int) -> bool:
        try:
            async with Redis.from_url(self.url) as client:
                return bool(await client.set(_PREFIX + key, b"1", nx=True, ex=ttl))
        except Exception as exc:  # any Redis fault: fail closed (see the module docstring)
            raise NonceStoreUnavailable(type(exc).__name__) from None

    async def forget(self, key: str) -> None:
        try:
            async with Redis.from_url(self.url) as client:
                await client.delete(_PREFIX + key)
        except Exception:  # forgetting is best effort: the key expires anyway
            return


_MEMORY = MemoryNonces()


def store_for(settings: Settings) -> NonceStore:
    """The process's store for these settings: Redis when configured, else memory."""
    return RedisNonces(settings.redis_url) if settings.redis_url else _MEMORY


def default_store() -> NonceStore:
    """The in-process store (adapters built without settings, e.g. in unit tests)."""
    return _MEMORY
