"""One-time codes that prove a consumer holds a phone number or e-mail address.

"My refunds" (``/my``) shows everything filed with a contact, across merchants, to
whoever proves they receive its messages. :class:`OneTimeCodes` issues a 6-digit
code for a contact and redeems it:

* a code expires after ``QREFUND_OTP_TTL_SECONDS`` (10 minutes by default);
* it works once: redeeming deletes it, atomically (a Lua script on Redis, a lock
  in memory), so two requests racing with the same code cannot both pass;
* only the latest code of a contact is valid, and after ``MAX_MISSES`` wrong
  guesses the code is dropped (guessing 10^6 codes five at a time is hopeless,
  and the per-address and per-contact budgets bound how often codes are sent);
* the store keeps a keyed hash of the contact and of the code, never either one.

With Redis configured the codes live there (every API process sees them);
without it (the embedded, one-process runtime) in memory.

A redeemed code becomes a *session*: the contact sealed with AES-GCM (the
platform's key ring, so it is opaque and tamper-proof) with an expiry, kept in
an HttpOnly cookie for ``SESSION_SECONDS``.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Literal

from redis.asyncio import Redis

from qrefund.platform.config import Settings
from qrefund.platform.crypto import KeyRing

MAX_MISSES = 5
SESSION_SECONDS = 30 * 60
_PURPOSE = "otp"
_SESSION_PURPOSE = "portal.contact_session"
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{4,30}$")
_EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
# Atomic redeem: right code -> delete and 1; wrong -> count the miss (drop at the cap), 0.
_REDEEM = """
local mac = redis.call('HGET', KEYS[1], 'mac')
if not mac then return 0 end
if mac == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
local misses = redis.call('HINCRBY', KEYS[1], 'misses', 1)
if misses >= tonumber(ARGV[2]) then redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class Contact:
    """A normalised contact: the digits of a phone number, or a lower-case e-mail
    address (the normal forms the refund and complaint fingerprints use)."""

    kind: Literal["phone", "email"]
    value: str

    @classmethod
    def parse(cls, text: str | None) -> Contact | None:
        """The contact a consumer typed, or None when it is neither form."""
        text = (text or "").strip()
        if len(text) > 254:
            return None
        if "@" in text:
            return cls("email", text.lower()) if _EMAIL.match(text) else None
        if _PHONE.match(text):
            digits = re.sub(r"\D", "", text)
            return cls("phone", digits) if 5 <= len(digits) <= 20 else None
        return None


    def variants(self) -> tuple[str, ...]:
        """The forms a consumer may have given this contact in: a mainland mobile number
        with or without its country code 86 (fingerprints are of the digits as given)."""
        value = self.value
        if self.kind == "phone" and len(value) == 11 and value.startswith("1"):
            return (value, "86" + value)
        if self.kind == "phone" and len(value) == 13 and value.startswith("861"):
            return (value, value[2:])
        return (value,)


class _MemoryCodes:
    def __init__(self) -> None:
        self._codes: dict[str, tuple[str, int, float]] = {}
        self._lock = asyncio.Lock()

    async def put(self, key: str, mac: str, ttl: int) -> None:
        async with self._lock:
            now = time.monotonic()
            self._codes = {k: v for k, v in self._codes.items() if v[2] > now}
            self._codes[key] = (mac, 0, now + ttl)

    async def redeem(self, key: str, mac: str) -> bool:
        async with self._lock:
            found = self._codes.get(key)
            if found is None or found[2] <= time.monotonic():
                self._codes.pop(key, None)
                return False
            if secrets.compare_digest(found[0], mac):
                del self._codes[key]
                return True
            misses = found[1] + 1
            if misses >= MAX_MISSES:
                del self._codes[key]
            else:
                self._codes[key] = (found[0], misses, found[2])
            return False


class _RedisCodes:
    def __init__(self, url: str) -> None:
        self._redis = Redis.from_url(url)
        self._script = self._redis.register_script(_REDEEM)

    async def put(self, key: str, mac: str, ttl: int) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping={"mac": mac, "misses": 0})
            pipe.expire(key, ttl)
            await pipe.execute()

    async def redeem(self, key: str, mac: str) -> bool:
        return bool(await self._script(keys=[key], args=[mac, MAX_MISSES]))


class OneTimeCodes:
    """Codes and sessions of one application (see the module docstring)."""

    def __init__(self, settings: Settings, ring: KeyRing) -> None:
        self.ttl = settings.otp_ttl_seconds
        self._ring = ring
        self._store: _MemoryCodes | _RedisCodes = (
            _RedisCodes(settings.redis_url) if settings.redis_url else _MemoryCodes())

    def _key(self, contact: Contact) -> str:
        return "qrefund:otp:" + self._ring.blind_index(f"{contact.kind}:{contact.value}",
                                                       _PURPOSE)

    def _mac(self, contact: Contact, code: str) -> str:
        return self._ring.blind_index(f"{contact.kind}:{contact.value}:{code}", _PURPOSE)

    def budget_key(self, contact: Contact) -> str:
        """What the per-contact rate limit counts under (a keyed hash, not the contact)."""
        return self._key(contact).rsplit(":", 1)[1][:32]

    async def issue(self, contact: Contact) -> str:
        """A fresh code for the contact; any earlier code of it stops working."""
        code = f"{secrets.randbelow(10**6):06d}"
        await self._store.put(self._key(contact), self._mac(contact, code), self.ttl)
        return code

    async def redeem(self, contact: Contact, entered: str) -> bool:
        """Whether ``entered`` is the contact's live one-time code (then it is used up)."""
        entered = (entered or "").strip()
        if not re.fullmatch(r"[0-9]{6}", entered):
            return False
        return await self._store.redeem(self._key(contact), self._mac(contact, entered))

    def seal_session(self, contact: Contact, *, now: float | None = None) -> str:
        expires = int((now if now is not None else time.time()) + SESSION_SECONDS)
        body = json.dumps({"k": contact.kind, "v": contact.value, "e": expires})
        return self._ring.encrypt(body, _SESSION_PURPOSE)

    def open_session(self, sealed: str | None, *, now: float | None = None) -> Contact | None:
        """The contact of an unexpired, authentic session; None otherwise."""
        if not sealed or len(sealed) > 2048:
            return None
        try:
            data = json.loads(self._ring.decrypt(sealed, _SESSION_PURPOSE))
        except Exception:  # forged, truncated, old key: just no session
            return None
        if data.get("e", 0) <= (now if now is not None else time.time()):
            return None
        kind = data.get("k")
        if kind not in ("phone", "email") or not isinstance(data.get("v"), str):
            return None
        return Contact(kind, data["v"])
