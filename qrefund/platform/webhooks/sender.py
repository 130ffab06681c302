"""One HTTP attempt: POST the body to the checked address, short timeouts, no redirects."""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass
from functools import lru_cache

import httpx

from qrefund.observability import metrics
from qrefund.platform.webhooks import targets

USER_AGENT = "qrefund-webhooks/1"
# Only a little of the receiver's answer is kept, for the delivery log.
RESPONSE_EXCERPT_BYTES = 1024


@lru_cache(maxsize=1)
def _tls() -> ssl.SSLContext:
    """One verifying TLS context per process: building one loads the CA store (~30 ms)."""
    return ssl.create_default_context()


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None
    latency_ms: int | None
    error: str | None
    response_excerpt: str | None = None


async def _read_excerpt(response: httpx.Response) -> str:
    collected = b""
    async for chunk in response.aiter_bytes():
        collected += chunk
        if len(collected) >= RESPONSE_EXCERPT_BYTES:
            break
    return collected[:RESPONSE_EXCERPT_BYTES].decode("utf-8", "replace")


async def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout_seconds: float,
    allow_private: bool,
    https_only: bool,
    resolver: targets.Resolver = targets.system_resolver,
) -> Outcome:
    """One delivery attempt (:func:`_post`), counted and timed in
    ``qrefund_webhook_deliveries{outcome}``."""
    started = time.perf_counter()
    outcome = await _post(url, body, headers, timeout_seconds=timeout_seconds,
                          allow_private=allow_private, https_only=https_only,
                          resolver=resolver)
    # refused_target: the URL failed the address check; no_response: connect or timeout.
    label = ("delivered" if outcome.ok else "refused_target" if outcome.latency_ms is None
             else "no_response" if outcome.status_code is None else "http_error")
    metrics.observe_webhook(label, time.perf_counter() - started)
    return outcome


async def _post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout_seconds: float,
    allow_private: bool,
    https_only: bool,
    resolver: targets.Resolver = targets.system_resolver,
) -> Outcome:
    """Never raises for the receiver's sake: every problem is a failed :class:`Outcome`.

    The host is resolved and every address checked now, at attempt time; the request
    then connects to the checked address itself (``pinned_url``), so nothing resolves
    the name again between the check and the connection.
    """
    try:
        target = await targets.check(
            url, allow_private=allow_private, https_only=https_only, resolver=resolver
        )
    except targets.TargetRefused as refused:
        return Outcome(False, None, None, f"{refused.code}: {refused.message}")
    request_headers = {
        **headers,
        "Host": target.host_header,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }
    extensions = {"sni_hostname": target.url.host} if target.url.scheme == "https" else {}
    timeout = httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 5.0))
    started = time.perf_counter()
    try:
        # trust_env=False: no proxy from the environment may reroute a pinned request.
        async with httpx.AsyncClient(
            timeout=timeout, follow_redirects=False, trust_env=False, verify=_tls()
        ) as client:
            request = client.build_request(
                "POST", target.pinned_url, content=body, headers=request_headers,
                extensions=extensions,
            )
            response = await client.send(request, stream=True)
            try:
                excerpt = await _read_excerpt(response)
            finally:
                await response.aclose()
    except httpx.TimeoutException:
        elapsed = int((time.perf_counter() - started) * 1000)
        return Outcome(False, None, elapsed, f"timed out after {timeout_seconds:g}s")
    except httpx.HTTPError as exc:
        elapsed = int((time.perf_counter() - started) * 1000)
        return Outcome(False, None, elapsed, f"{type(exc).__name__}: {exc}"[:500])
    elapsed = int((time.perf_counter() - started) * 1000)
    status = response.status_code
    if 200 <= status < 300:
        return Outcome(True, status, elapsed, None, excerpt)
    reason = "redirects are not followed" if 300 <= status < 400 else f"HTTP {status}"
    return Outcome(False, status, elapsed, reason, excerpt)
