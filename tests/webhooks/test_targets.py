"""The private-address guard: every IPv4-embedding IPv6 form, numeric host spellings,
trailing dots, and the check at attempt time with the connection pinned to the checked
address.

The table runs through ``createWebhookEndpoint`` on an app whose settings have
``QREFUND_WEBHOOK_ALLOW_PRIVATE_TARGETS`` off (the suite's default app allows private
targets so that deliveries can reach the local receiver).
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from qrefund.app import create_app
from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from qrefund.platform.webhooks import sender, targets
from qrefund.platform.webhooks.models import WebhookEndpoint
from tests.support.world import World
from tests.webhooks.api import codes, create_endpoint
from tests.webhooks.support import Receiver, owner_count


@pytest.fixture(scope="module")
def strict_app(settings: Settings, db: Database) -> object:
    return create_app(settings.model_copy(update={"webhook_allow_private_targets": False}), db)


@pytest.fixture
async def strict_client(strict_app: object) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=strict_app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


# -- refusals ---------------------------------------------------------------------------

# (url, code, text the message must contain: the embedded address that decided)
REFUSED = [
    # NAT64, well-known prefix: judged by the IPv4 address in the last 32 bits.
    ("https://[64:ff9b::7f00:1]/", "PRIVATE_TARGET", "NAT64 form of 127.0.0.1"),
    ("https://[64:ff9b::a9fe:a9fe]/", "PRIVATE_TARGET", "NAT64 form of 169.254.169.254"),
    ("https://[64:ff9b::a00:1]/", "PRIVATE_TARGET", "NAT64 form of 10.0.0.1"),
    # NAT64, local-use prefix: never public, whatever it embeds.
    ("https://[64:ff9b:1::a9fe:a9fe]/", "PRIVATE_TARGET", "local-use NAT64"),
    ("https://[64:ff9b:1::808:808]/", "PRIVATE_TARGET", "local-use NAT64"),
    # IPv4-compatible (deprecated ::/96).
    ("https://[::7f00:1]/", "PRIVATE_TARGET", "IPv4-compatible form of 127.0.0.1"),
    ("https://[::a9fe:a9fe]/", "PRIVATE_TARGET", "IPv4-compatible form of 169.254.169.254"),
    # IPv4-mapped, in both spellings.
    ("https://[::ffff:7f00:1]/", "PRIVATE_TARGET", "IPv4-mapped form of 127.0.0.1"),
    ("https://[::ffff:192.168.1.1]/", "PRIVATE_TARGET", "IPv4-mapped form of 192.168.1.1"),
    ("https://[::ffff:224.0.0.1]/", "PRIVATE_TARGET", "IPv4-mapped form of 224.0.0.1"),
    # IPv4-translated (SIIT, ::ffff:0:0:0/96).
    ("https://[::ffff:0:7f00:1]/", "PRIVATE_TARGET", "IPv4-translated form of 127.0.0.1"),
    ("https://[::ffff:0:a9fe:a9fe]/", "PRIVATE_TARGET",
     "IPv4-translated form of 169.254.169.254"),
    # 6to4.
    ("https://[2002:7f00:1::1]/", "PRIVATE_TARGET", "6to4 form of 127.0.0.1"),
    ("https://[2002:a9fe:a9fe::]/", "PRIVATE_TARGET", "6to4 form of 169.254.169.254"),
    ("https://[2002:6440:1::]/", "PRIVATE_TARGET", "6to4 form of 100.64.0.1"),
    # Teredo: the server and the (inverted) client address, and never public at all.
    ("https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", "PRIVATE_TARGET",
     "Teredo with client 127.0.0.1"),
    ("https://[2001:0:a00:1:8000:63bf:f7f7:fbfb]/", "PRIVATE_TARGET",
     "Teredo with server 10.0.0.1"),
    ("https://[2001:0:4136:e378:8000:63bf:f7f7:fbfb]/", "PRIVATE_TARGET",
     "client 8.8.4.4), not globally reachable"),
    # Plain IPv6 that some Python releases call global.
    ("https://[fec0::1]/", "PRIVATE_TARGET", "site-local"),
    ("https://[3fff::1]/", "PRIVATE_TARGET", "documentation"),
    ("https://[ff0e::1]/", "PRIVATE_TARGET", "multicast"),
    ("https://[fe80::1%25eth0]/", "PRIVATE_TARGET", "link-local"),
    # Numeric IPv4 spellings that resolvers read as 127.0.0.1 (or 8.8.8.8): refused.
    ("http://2130706433/", "INVALID_URL", "numeric IPv4 spelling"),
    ("http://0x7f.1/", "INVALID_URL", "numeric IPv4 spelling"),
    ("http://017700000001/", "INVALID_URL", "numeric IPv4 spelling"),
    ("http://0x7f.0.0.1/", "INVALID_URL", "numeric IPv4 spelling"),
    ("http://127.1/", "INVALID_URL", "numeric IPv4 spelling"),
    ("http://0/", "INVALID_URL", "numeric IPv4 spelling"),
    ("http://134744072/", "INVALID_URL", "numeric IPv4 spelling"),
    ("http://hooks.example.0x10/", "INVALID_URL", "numeric IPv4 spelling"),
    # Trailing dots: one is the DNS root and is dropped, then the host is judged.
    ("http://127.0.0.1./", "PRIVATE_TARGET", "127.0.0.1: loopback"),
    ("http://localhost./x", "PRIVATE_TARGET", "loopback"),
    ("http://2130706433./", "INVALID_URL", "numeric IPv4 spelling"),
    ("http://hooks.example.com../", "INVALID_URL", "empty label"),
    ("http://.example.com/", "INVALID_URL", "empty label"),
]


@pytest.mark.parametrize(("url", "code", "says"), REFUSED)
async def test_private_and_ambiguous_targets_are_refused_at_creation(
    strict_client: httpx.AsyncClient, world: World, owner_engine: Any, url: str, code: str,
    says: str,
) -> None:
    # Given private targets are not allowed; when an ADMIN creates an endpoint for the url
    payload = await create_endpoint(strict_client, world.key("a"), url)
    # Then it is a user error on the url that names what decided, and nothing is stored.
    assert codes(payload) == [code], payload
    error = payload["userErrors"][0]
    assert error["field"] == ["url"]
    assert says in error["message"], error["message"]
    assert payload["webhookEndpoint"] is None
    assert owner_count(owner_engine, WebhookEndpoint) == 0


# -- what is accepted -------------------------------------------------------------------

# (url, the url stored): public addresses, whatever form carries them.
ACCEPTED = [
    ("https://8.8.8.8/hooks", "https://8.8.8.8/hooks"),
    ("https://[64:ff9b::808:808]/hooks", "https://[64:ff9b::808:808]/hooks"),
    ("https://[::ffff:8.8.8.8]/hooks", "https://[::ffff:8.8.8.8]/hooks"),
    ("https://[::ffff:0:808:808]/hooks", "https://[::ffff:0:808:808]/hooks"),
    ("https://[::808:808]/hooks", "https://[::808:808]/hooks"),
    ("https://[2002:808:808::1]/hooks", "https://[2002:808:808::1]/hooks"),
    ("https://[2606:4700:4700::1111]/hooks", "https://[2606:4700:4700::1111]/hooks"),
    ("https://8.8.8.8./hooks", "https://8.8.8.8/hooks"),
]


@pytest.mark.parametrize(("url", "stored"), ACCEPTED)
async def test_public_addresses_are_judged_by_the_ipv4_they_carry(
    strict_client: httpx.AsyncClient, world: World, url: str, stored: str
) -> None:
    payload = await create_endpoint(strict_client, world.key("a"), url)
    assert payload["userErrors"] == [], payload
    assert payload["webhookEndpoint"]["url"] == stored


@pytest.mark.parametrize(
    ("address", "reason"),
    [("64:ff9b::6440:1", "NAT64 form of 100.64.0.1, not globally"), ("::", "unspecified"),
     ("::1", "loopback"), ("0.0.0.0", "unspecified"), ("240.0.0.1", "private"),
     ("192.0.2.1", "private"), ("ff02::1", "multicast"), ("2001:db8::1", "documentation"),
     ("8.8.8.8", None), ("64:ff9b::808:808", None), ("::ffff:8.8.8.8", None),
     ("2002:808:808::1", None)],
)
def test_refusal_reasons(address: str, reason: str | None) -> None:
    found = targets.refusal_reason(ipaddress.ip_address(address))
    if reason is None:
        assert found is None
    else:
        assert found is not None and found.startswith(reason), found


# -- at attempt time ---------------------------------------------------------------------


def _port(receiver: Receiver) -> int:
    assert receiver.server is not None
    return int(receiver.server.server_address[1])


async def test_a_name_resolving_to_loopback_is_refused_before_connecting(
    receiver: Receiver,
) -> None:
    # Given a receiver on 127.0.0.1, addressed by the name "localhost"
    port = _port(receiver)
    url = f"http://localhost:{port}/hooks/qrefund"
    # When an attempt is made with private targets not allowed
    outcome = await sender.post(url, b"{}", {}, timeout_seconds=2, allow_private=False,
                                https_only=False)
    # Then it fails as a private target and the receiver never hears of it
    assert not outcome.ok and outcome.status_code is None
    assert outcome.error is not None and outcome.error.startswith("PRIVATE_TARGET")
    assert "loopback" in outcome.error
    assert receiver.requests == []
    # ... while the same URL does reach it when private targets are allowed.
    allowed = await sender.post(url, b"{}", {}, timeout_seconds=2, allow_private=True,
                                https_only=False)
    assert allowed.ok and len(receiver.requests) == 1


class ScriptedResolver:
    """A resolver seam: answers each look-up with the next scripted address."""

    def __init__(self, *answers: str) -> None:
        self.answers = [ipaddress.ip_address(a) for a in answers]
        self.calls: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[targets.IPAddress]:
        self.calls.append((host, port))
        return [self.answers.pop(0)]


async def test_a_name_rebound_to_loopback_after_creation_is_refused_at_attempt_time(
    receiver: Receiver,
) -> None:
    port = _port(receiver)
    url = f"http://hooks.rebind.invalid:{port}/hooks/qrefund"
    resolver = ScriptedResolver("93.184.216.34", "127.0.0.1")
    # Given the name was public when the endpoint was created
    stored = await targets.validate_for_endpoint(url, allow_private=False, https_only=False,
                                                 resolver=resolver)
    assert stored == url
    # When it resolves to loopback at the attempt
    outcome = await sender.post(url, b"{}", {}, timeout_seconds=2, allow_private=False,
                                https_only=False, resolver=resolver)
    # Then the attempt is refused before any connection
    assert outcome.error is not None and outcome.error.startswith("PRIVATE_TARGET")
    assert "127.0.0.1" in outcome.error
    assert receiver.requests == [] and len(resolver.calls) == 2


async def test_the_connection_goes_to_the_checked_address_not_a_new_lookup(
    receiver: Receiver,
) -> None:
    # Given a name the system resolver cannot resolve (.invalid, RFC 6761), which the
    # seam resolves once to the receiver's address
    port = _port(receiver)
    url = f"http://hooks.pinned.invalid:{port}/hooks/qrefund"
    resolver = ScriptedResolver("127.0.0.1")
    # When an attempt is made
    outcome = await sender.post(url, b'{"n":1}', {}, timeout_seconds=2, allow_private=True,
                                https_only=False, resolver=resolver)
    # Then it arrived: the client connected to the checked address without resolving the
    # name again (it could not have), and the name stayed in the Host header.
    assert outcome.ok, outcome
    assert resolver.calls == [("hooks.pinned.invalid", port)]
    (request,) = receiver.requests
    assert request.headers["host"] == f"hooks.pinned.invalid:{port}"
    assert request.body == b'{"n":1}'


async def test_an_unresolvable_name_is_refused_without_connecting() -> None:
    outcome = await sender.post("http://hooks.pinned.invalid/x", b"{}", {}, timeout_seconds=2,
                                allow_private=True, https_only=False)
    assert outcome.error is not None and outcome.error.startswith("UNRESOLVABLE_HOST")
