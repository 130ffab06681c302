"""Request rate limits per API key and per client address (the `limits` library).

Budgets, each a sliding window (``"600/minute"``):

* ``per_key``: every authenticated request counts against its API key;
* ``anonymous``: requests without a key count against the client address;
* ``auth_failures``: every refused key (unknown, revoked, expired, malformed)
  counts against the client address, and once that budget is spent the address
  is refused *before* its keys are looked up, so guessing keys is slow and cheap
  for the platform;
* ``receipt_request``: each call of a consumer's public GraphQL field counts against
  its receipt token and against the client address.

With ``QREFUND_REDIS_URL`` set the counters live in Redis, shared by every API
process; without it (the embedded, one-process runtime) in memory. The limiter
fails open: if Redis cannot be reached a request is served, not refused, and a
warning is logged (at most once a minute).

A request whose key this process already holds (the key cache) checks both of its
budgets, the address's ``auth_failures`` and the key's ``per_key``, in one Redis round
trip (:meth:`RateLimiter.known_key_request`, one Lua script over the same counters the
library keeps; the checks of one event-loop turn share one call,
:mod:`qrefund.platform.known_key_checks`). A key that still has to be looked up
cannot: counting a request against a key's budget before its secret is checked would let
anyone who knows a key's id spend its budget.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from redis.asyncio import Redis

from qrefund.observability import metrics
from qrefund.platform.config import Settings
from qrefund.platform.known_key_checks import KnownKeyChecks

log = logging.getLogger(__name__)

_PREFIX = "qrefund:rl"
_SCRIPT_TIMEOUT = 5.0  # seconds for a known-key script call, connecting included


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # seconds, when refused


ALLOWED = Verdict(True)


def _window_keys(item: RateLimitItem, *identifiers: str) -> list[bytes]:
    """The (previous, current) Redis keys limits' storage keeps this window in."""
    current = f"{_PREFIX}:{{{item.key_for(*identifiers)}}}"
    return [f"{current}/-1".encode(), current.encode()]


def _storage(settings: Settings) -> Storage:
    url = settings.redis_url
    if not url:
        return MemoryStorage()
    if url.startswith("unix://"):
        url = "redis+unix://" + url.removeprefix("unix://")
    return RedisStorage(f"async+{url}", implementation="redispy", key_prefix=_PREFIX)


class RateLimiter:
    """The API's budgets; one per process, built from the settings."""

    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limit_enabled
        self.per_key: RateLimitItem = parse(settings.rate_limit_per_key)
        self.anonymous: RateLimitItem = parse(settings.rate_limit_anonymous)
        self.auth_failures: RateLimitItem = parse(settings.rate_limit_auth_failures)
        self.receipt_token: RateLimitItem = parse(settings.rate_limit_receipt_per_token)
        self.receipt_address: RateLimitItem = parse(settings.rate_limit_receipt_per_address)
        self._strategy = SlidingWindowCounterRateLimiter(_storage(settings))
        # The known-key checks' client. Without a socket timeout: redis-py runs each
        # write of a command under asyncio.wait_for, a task of its own per call; a whole
        # call has one timeout instead (KnownKeyChecks), and a call cut short drops its
        # connection (redis-py disconnects on cancellation).
        self._redis = (Redis.from_url(settings.redis_url, socket_timeout=None,
                                      socket_connect_timeout=_SCRIPT_TIMEOUT)
                       if settings.redis_url else None)
        # The script's constant arguments, as the bytes redis-py would send (it encodes
        # each argument of each call through a chain of type checks).
        args = [str(value).encode() for value in (
            self.auth_failures.amount, self.auth_failures.get_expiry(),
            self.per_key.amount, self.per_key.get_expiry())]
        self.known_key_checks = (KnownKeyChecks(self._redis, args, _SCRIPT_TIMEOUT)
                                 if self._redis is not None else None)
        # A check's four window keys by (address, key id): the same few pairs come again
        # and again, and each is six string operations in limits and two encodings.
        self._known_key_windows = functools.lru_cache(maxsize=4096)(self._windows)
        self._warned_at = 0.0

    async def key_request(self, key_id: str) -> Verdict:
        return await self._hit(self.per_key, "key", key_id)

    async def close(self) -> None:
        """Close the known-key checks' connections (the app's lifespan, at exit)."""
        if self.known_key_checks is not None:
            await self.known_key_checks.close()
        if self._redis is not None:
            await self._redis.aclose()

    async def known_key_request(self, address: str, key_id: str) -> Verdict:
        """:meth:`auth_blocked` for the address, then :meth:`key_request`, for a key whose
        secret was already checked (see the module docstring): one round trip."""
        if not self.enabled:
            return ALLOWED
        checks = self.known_key_checks
        if checks is None:  # counters in memory: no round trip to save
            blocked = await self.auth_blocked(address)
            return await self.key_request(key_id) if blocked.allowed else blocked
        try:
            outcome = await checks.outcome(self._known_key_windows(address, key_id))
            if outcome == 0:
                return ALLOWED
            if outcome == 1:
                return await self._refusal(self.auth_failures, "authfail", address)
            return await self._refusal(self.per_key, "key", key_id)
        except Exception as exc:  # fail open, see the module docstring
            self._storage_down(exc)
            return ALLOWED

    def _windows(self, address: str, key_id: str) -> tuple[bytes, ...]:
        return (*_window_keys(self.auth_failures, "authfail", address),
                *_window_keys(self.per_key, "key", key_id))

    async def anonymous_request(self, address: str) -> Verdict:
        return await self._hit(self.anonymous, "anon", address)

    async def receipt_request(self, token_key: str, address: str) -> Verdict:
        """A call of a consumer's public field: counts against its receipt (``token_key``,
        a digest of the token, never the token) and against the client address."""
        by_address = await self._hit(self.receipt_address, "receipt-addr", address)
        if not by_address.allowed:
            return by_address
        return await self._hit(self.receipt_token, "receipt", token_key)

    async def auth_blocked(self, address: str) -> Verdict:
        """Whether the address has used up its failed-authentication budget (no hit)."""
        if not self.enabled:
            return ALLOWED
        try:
            if await self._strategy.test(self.auth_failures, "authfail", address):
                return ALLOWED
            return await self._refusal(self.auth_failures, "authfail", address)
        except Exception as exc:  # the limiter never takes the API down
            self._storage_down(exc)
            return ALLOWED

    async def auth_failed(self, address: str) -> None:
        await self._hit(self.auth_failures, "authfail", address)

    async def hit(self, rate: RateLimitItem, budget: str, identifier: str) -> Verdict:
        """One request against a named budget of the consumer pages (``portal.address``,
        ``portal.token``, ``otp.contact`` ...), counted per identifier."""
        return await self._hit(rate, budget, identifier)

    async def _hit(self, item: RateLimitItem, *identifiers: str) -> Verdict:
        if not self.enabled:
            return ALLOWED
        try:
            if await self._strategy.hit(item, *identifiers):
                return ALLOWED
            return await self._refusal(item, *identifiers)
        except Exception as exc:  # fail open, see the module docstring
            self._storage_down(exc)
            return ALLOWED

    async def _refusal(self, item: RateLimitItem, *identifiers: str) -> Verdict:
        metrics.rate_limit_refused(identifiers[0] if identifiers else "unknown")
        stats = await self._strategy.get_window_stats(item, *identifiers)
        return Verdict(False, max(1, math.ceil(stats.reset_time - time.time())))

    def _storage_down(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at > 60:
            self._warned_at = now
            log.warning("rate limiter storage unavailable, serving without limits: %s",
                        type(exc).__name__)
