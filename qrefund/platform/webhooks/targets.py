"""Where a webhook may go: URL checks and the private-address guard.

A webhook URL is chosen by a tenant, so without a guard the platform would
POST into its own network (SSRF). Every address a host resolves to must be a
public unicast address, unless ``QREFUND_WEBHOOK_ALLOW_PRIVATE_TARGETS`` is
set. The check runs when the endpoint is created and again before every
attempt, and the request then connects to the very address that was checked
(the host name stays in the ``Host`` header and in TLS SNI and certificate
checks), so a DNS answer that changes between check and connect
("DNS rebinding") cannot smuggle a private address in.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

import httpx

from qrefund.platform.errors import InvalidInput

MAX_URL_LENGTH = 2048
DNS_TIMEOUT_SECONDS = 5.0

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(Exception):
    """The target cannot be used (bad URL, unresolvable, or a private address)."""

    def __init__(self, message: str, code: str) -> None:
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


def is_public(address: IPAddress) -> bool:
    """Public unicast only: no loopback, private, link-local, CGNAT, multicast, reserved."""
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv6 form of an IPv4 address is judged by the IPv4 address it carries.
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            return is_public(embedded)
        if address.teredo is not None:
            return False
    return address.is_global and not address.is_multicast


def parse_url(raw: str, *, https_only: bool) -> httpx.URL:
    value = (raw or "").strip()
    if not value:
        raise TargetRefused("url is required", "REQUIRED")
    if len(value) > MAX_URL_LENGTH:
        raise TargetRefused(f"url is longer than {MAX_URL_LENGTH} characters", "TOO_LONG")
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, ValueError):
        raise TargetRefused("url is not a valid URL", "INVALID_URL") from None
    allowed = ("https",) if https_only else ("http", "https")
    if url.scheme not in allowed:
        raise TargetRefused(f"url must use {' or '.join(allowed)}", "INVALID_URL")
    if not url.host:
        raise TargetRefused("url has no host", "INVALID_URL")
    if url.userinfo:
        raise TargetRefused("url must not carry credentials", "INVALID_URL")
    if url.fragment:
        raise TargetRefused("url must not have a #fragment", "INVALID_URL")
    return url


async def resolve(url: httpx.URL) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(url.host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(url.host, port, type=socket.SOCK_STREAM), DNS_TIMEOUT_SECONDS
        )
    except (OSError, TimeoutError):
        raise TargetRefused(f"host {url.host!r} does not resolve", "UNRESOLVABLE_HOST") from None
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        # Strip an IPv6 zone id ("fe80::1%eth0"): it is link-local anyway.
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise TargetRefused(f"host {url.host!r} does not resolve", "UNRESOLVABLE_HOST")
    return addresses


async def check(raw: str, *, allow_private: bool, https_only: bool) -> Target:
    """Parse, resolve and check every address; the first one is used to connect."""
    url = parse_url(raw, https_only=https_only)
    addresses = await resolve(url)
    if not allow_private:
        refused = [a for a in addresses if not is_public(a)]
        if refused:
            raise TargetRefused(
                f"url resolves to a non-public address ({refused[0]})", "PRIVATE_TARGET"
            )
    return Target(url=url, address=addresses[0])


async def validate_for_endpoint(raw: str, *, allow_private: bool, https_only: bool) -> str:
    """The check at creation time, as a user error on field ``url``."""
    try:
        target = await check(raw, allow_private=allow_private, https_only=https_only)
    except TargetRefused as refused:
        raise InvalidInput(refused.message, field=["url"], code=refused.code) from None
    return str(target.url)
