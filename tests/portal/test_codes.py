"""One-time codes: contacts' normal forms, expiry in both stores, sessions."""

from __future__ import annotations

import time

import pytest
from redis import Redis

from qrefund.platform import otp
from qrefund.platform.config import Settings
from qrefund.platform.crypto import key_ring
from qrefund.platform.otp import Contact, OneTimeCodes


@pytest.mark.parametrize(("typed", "kind", "value"), [
    ("+86 138 0013 8000", "phone", "8613800138000"),
    ("138-0013-8000", "phone", "13800138000"),
    (" Li.Wei@Example.COM ", "email", "li.wei@example.com"),
])
def test_contacts_are_normalised(typed: str, kind: str, value: str) -> None:
    assert Contact.parse(typed) == Contact(kind, value)  # type: ignore[arg-type]


def test_mainland_mobiles_match_with_and_without_the_country_code() -> None:
    assert Contact("phone", "13800138000").variants() == ("13800138000", "8613800138000")
    assert Contact("phone", "8613800138000").variants() == ("8613800138000", "13800138000")
    assert Contact("phone", "4915112345678").variants() == ("4915112345678",)


async def test_codes_expire_in_memory(settings: Settings,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    codes = OneTimeCodes(settings.model_copy(update={"redis_url": None}), key_ring())
    contact = Contact("email", "a@example.com")
    code = await codes.issue(contact)
    later = time.monotonic() + codes.ttl + 1
    monkeypatch.setattr(otp.time, "monotonic", lambda: later)
    assert not await codes.redeem(contact, code)


async def test_codes_expire_in_redis_and_keep_no_contact_or_code(
    settings: Settings, redis_conn: Redis
) -> None:
    codes = OneTimeCodes(settings, key_ring())
    contact = Contact("phone", "13800138000")
    code = await codes.issue(contact)
    keys = [k.decode() for k in redis_conn.keys("qrefund:otp:*")]
    assert len(keys) == 1 and "13800138000" not in keys[0]
    assert 0 < redis_conn.ttl(keys[0]) <= settings.otp_ttl_seconds
    stored = redis_conn.hgetall(keys[0])
    assert code.encode() not in b"".join(stored.values())
    redis_conn.delete(keys[0])  # what expiry does
    assert not await codes.redeem(contact, code)


async def test_racing_redemptions_pass_once(settings: Settings, redis_conn: Redis) -> None:
    import asyncio

    for store in (settings, settings.model_copy(update={"redis_url": None})):
        codes = OneTimeCodes(store, key_ring())
        contact = Contact("phone", "13800138000")
        code = await codes.issue(contact)
        results = await asyncio.gather(*(codes.redeem(contact, code) for _ in range(8)))
        assert sorted(results) == [False] * 7 + [True]


def test_sessions_are_sealed_and_expire(settings: Settings) -> None:
    codes = OneTimeCodes(settings, key_ring())
    contact = Contact("email", "a@example.com")
    sealed = codes.seal_session(contact)
    assert "example" not in sealed
    assert codes.open_session(sealed) == contact
    assert codes.open_session(codes.seal_session(contact, now=0)) is None
    assert codes.open_session(sealed[:-4] + "AAAA") is None
    assert codes.open_session("garbage") is None and codes.open_session(None) is None
