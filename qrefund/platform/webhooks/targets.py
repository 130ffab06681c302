"""Where a webhook may go: URL checks and the private-address guard.

A webhook URL is chosen by a tenant, so without a guard the platform would
POST into its own network (SSRF). Every address a host resolves to must be a
public unicast address, unless ``QREFUND_WEBHOOK_ALLOW_PRIVATE_TARGETS`` is
set. The check runs when the endpoint is created and again before every
attempt, and the request then connects to the very address that was checked
(the host name stays in the ``Host`` header and in TLS SNI and certificate
checks), so a DNS answer that changes between check and connect
("DNS rebinding") cannot smuggle a private address in.

Judging an address (:func:`refusal_reason`):

* IPv4: the standard library's properties (unspecified, loopback, link-local,
  multicast, private, reserved) and ``is_global`` (which also excludes shared
  address space, 100.64.0.0/10).
* An IPv6 address that carries an IPv4 address is judged by the IPv4 address:
  IPv4-mapped ``::ffff:0:0/96``, IPv4-translated ``::ffff:0:0:0/96``,
  IPv4-compatible ``::/96``, NAT64 ``64:ff9b::/96`` and 6to4 ``2002::/16``.
  ``[64:ff9b::7f00:1]`` is 127.0.0.1 to a host behind a NAT64 gateway.
* Teredo ``2001::/32`` and the local-use NAT64 prefix ``64:ff9b:1::/48`` are
  never public: IANA lists neither as globally reachable, and a local-use prefix
  leads to the operator's own translator. The refusal names the embedded
  Teredo server and client addresses.
* Any other IPv6 address must be ``is_global`` and not multicast, reserved,
  link-local, site-local or documentation space.

The embedded forms are decided here rather than left to ``is_global``, whose
tables change between Python patch releases (3.11.7 calls ``64:ff9b:1::1`` and
``fec0::1`` global; 3.13 calls all of ``2002::/16`` private).

Host spellings: a host whose last label is a number (``2130706433``,
``0x7f.1``, ``017700000001``, ``127.1``) is an IPv4 address to URL parsers and
to ``getaddrinfo``, which read it in decimal, octal or hex as they please; only
the dotted-decimal spelling is accepted. One trailing dot (the DNS root,
``example.com.``) is dropped; empty labels are refused.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import httpx

from qrefund.platform.errors import CommonError, ErrorCode, InvalidInput
from qrefund.platform.webhooks.errors import WebhookError

MAX_URL_LENGTH = 2048
DNS_TIMEOUT_SECONDS = 5.0

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> every address the host resolves to; raises OSError when it does not.
Resolver = Callable[[str, int], Awaitable[Sequence[IPAddress]]]

_NUMERIC_LABEL = re.compile(r"0x[0-9a-f]*|[0-9]+", re.IGNORECASE)

# IPv6 prefixes whose last 32 bits are an IPv4 address, and what the form is called.
# 6to4 and Teredo carry theirs elsewhere (ipaddress's sixtofour / teredo).
_EMBEDDING_PREFIXES: tuple[tuple[ipaddress.IPv6Network, str], ...] = (
    (ipaddress.IPv6Network("::ffff:0:0/96"), "IPv4-mapped"),
    (ipaddress.IPv6Network("::ffff:0:0:0/96"), "IPv4-translated"),
    (ipaddress.IPv6Network("64:ff9b::/96"), "NAT64"),
    (ipaddress.IPv6Network("::/96"), "IPv4-compatible"),
)
_NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")
_DOCUMENTATION_V6 = (ipaddress.IPv6Network("2001:db8::/32"), ipaddress.IPv6Network("3fff::/20"))


class TargetRefused(Exception):
    """The target cannot be used (bad URL, unresolvable, or a private address)."""

    def __init__(self, message: str, code: ErrorCode) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class Target:
    url: httpx.URL
    address: IPAddress

    @property
    def pinned_url(self) -> httpx.URL:
        """The URL with its host replaced by the checked address."""
        return self.url.copy_with(host=str(self.address))

    @property
    def host_header(self) -> str:
        return self.url.netloc.decode("ascii")


# -- judging addresses ----------------------------------------------------------------


def _flag_reason(address: IPAddress) -> str | None:
    flags = (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (address.is_private, "private"),
        (address.is_reserved, "reserved"),
    )
    return next((reason for flag, reason in flags if flag), None)


def _ipv4_reason(address: ipaddress.IPv4Address) -> str | None:
    reason = _flag_reason(address)
    if reason is None and not address.is_global:
        reason = "not globally reachable"
    return reason


def _embedded(address: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    """The IPv4 address an IPv4-embedding IPv6 address carries, and the form's name."""
    if address.sixtofour is not None:
        return "6to4", address.sixtofour
    for network, form in _EMBEDDING_PREFIXES:
        if address in network:
            return form, ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _teredo_reason(server: ipaddress.IPv4Address, client: ipaddress.IPv4Address) -> str:
    for role, inner in (("server", server), ("client", client)):
        reason = _ipv4_reason(inner)
        if reason is not None:
            return f"Teredo with {role} {inner}, {reason}"
    return f"Teredo (server {server}, client {client}), not globally reachable"


def _ipv6_reason(address: ipaddress.IPv6Address) -> str | None:
    # The unspecified and loopback addresses sit inside ::/96; name them as themselves.
    if address.is_unspecified or address.is_loopback:
        return _flag_reason(address)
    embedded = _embedded(address)
    if embedded is not None:
        form, ipv4 = embedded
        inner = _ipv4_reason(ipv4)
        return None if inner is None else f"{form} form of {ipv4}, {inner}"
    if address.teredo is not None:
        return _teredo_reason(*address.teredo)
    if address in _NAT64_LOCAL_USE:
        return "local-use NAT64 prefix 64:ff9b:1::/48, not globally reachable"
    if address.is_site_local:
        return "site-local"
    if any(address in network for network in _DOCUMENTATION_V6):
        return "documentation"
    reason = _flag_reason(address)
    if reason is None and not address.is_global:
        reason = "not globally reachable"
    return reason


def refusal_reason(address: IPAddress) -> str | None:
    """Why ``address`` is not a public unicast address; ``None`` when it is one."""
    if isinstance(address, ipaddress.IPv4Address):
        return _ipv4_reason(address)
    return _ipv6_reason(address)


def is_public(address: IPAddress) -> bool:
    """Public unicast only: no loopback, private, link-local, CGNAT, multicast, reserved."""
    return refusal_reason(address) is None


# -- parsing and resolving ------------------------------------------------------------


def _normalised_host(url: httpx.URL) -> httpx.URL:
    """Drop the DNS root's trailing dot; refuse empty labels and numeric IPv4 spellings."""
    host = url.host
    if ":" in host:  # an IPv6 literal (httpx has removed the brackets)
        return url
    name = host[:-1] if host.endswith(".") else host
    labels = name.split(".")
    if "" in labels:
        raise TargetRefused(f"url host {host!r} has an empty label", WebhookError.INVALID_URL)
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        try:
            ipaddress.IPv4Address(name)
        except ValueError:
            raise TargetRefused(
                f"url host {host!r} is a numeric IPv4 spelling; write the address as four "
                "decimal numbers (a.b.c.d)", WebhookError.INVALID_URL,
            ) from None
    return url if name == host else url.copy_with(host=name)


def parse_url(raw: str, *, https_only: bool) -> httpx.URL:
    value = (raw or "").strip()
    if not value:
        raise TargetRefused("url is required", CommonError.REQUIRED)
    if len(value) > MAX_URL_LENGTH:
        raise TargetRefused(f"url is longer than {MAX_URL_LENGTH} characters", CommonError.TOO_LONG)
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, ValueError):
        raise TargetRefused("url is not a valid URL", WebhookError.INVALID_URL) from None
    allowed = ("https",) if https_only else ("http", "https")
    if url.scheme not in allowed:
        raise TargetRefused(f"url must use {' or '.join(allowed)}", WebhookError.INVALID_URL)
    if not url.host:
        raise TargetRefused("url has no host", WebhookError.INVALID_URL)
    if url.userinfo:
        raise TargetRefused("url must not carry credentials", WebhookError.INVALID_URL)
    if url.fragment:
        raise TargetRefused("url must not have a #fragment", WebhookError.INVALID_URL)
    return _normalised_host(url)


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """The operating system's resolver (``getaddrinfo``), with a timeout."""
    loop = asyncio.get_running_loop()
    infos = await asyncio.wait_for(
        loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), DNS_TIMEOUT_SECONDS
    )
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        # Strip an IPv6 zone id ("fe80::1%eth0"): it is link-local anyway.
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


async def resolve(url: httpx.URL, resolver: Resolver = system_resolver) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(url.host)]
    except ValueError:
        pass
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        addresses = list(await resolver(url.host, port))
    except (OSError, TimeoutError):
        addresses = []
    if not addresses:
        raise TargetRefused(f"host {url.host!r} does not resolve", WebhookError.UNRESOLVABLE_HOST)
    return addresses


async def check(
    raw: str, *, allow_private: bool, https_only: bool, resolver: Resolver = system_resolver
) -> Target:
    """Parse, resolve and check every address; the first one is used to connect."""
    url = parse_url(raw, https_only=https_only)
    addresses = await resolve(url, resolver)
    if not allow_private:
        for address in addresses:
            reason = refusal_reason(address)
            if reason is not None:
                raise TargetRefused(
                    f"url resolves to a non-public address ({address}: {reason})",
                    WebhookError.PRIVATE_TARGET,
                )
    return Target(url=url, address=addresses[0])


async def validate_for_endpoint(
    raw: str, *, allow_private: bool, https_only: bool, resolver: Resolver = system_resolver
) -> str:
    """The check at creation time, as a user error on field ``url``; the normalised URL."""
    try:
        target = await check(
            raw, allow_private=allow_private, https_only=https_only, resolver=resolver
        )
    except TargetRefused as refused:
        raise InvalidInput(refused.message, field=["url"], code=refused.code) from None
    return str(target.url)
