"""Notices: after-commit hints to every API process over pub/sub ("key revoked").

Unlike domain events, notices are not stored. They tell processes holding
long-lived state (open WebSockets) to act at once; those processes also check on
their own schedule, so a lost notice only delays. An API process installs its
hub's publisher while it runs; elsewhere (workers, scripts) notices go nowhere.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Publisher = Callable[[str, str], Awaitable[None]]

_publishers: list[Publisher] = []


def install(publisher: Publisher) -> None:
    if publisher not in _publishers:
        _publishers.append(publisher)


def uninstall(publisher: Publisher) -> None:
    if publisher in _publishers:
        _publishers.remove(publisher)


async def publish(channel: str, message: str) -> None:
    """Best effort: a failure is logged (the receivers' own checks are the backstop)."""
    for publisher in list(_publishers):
        try:
            await publisher(channel, message)
        except Exception as exc:  # Redis down or slow: say so, do not fail the request
            log.warning("notice on %s not published: %s", channel, exc)
