"""UTC offsets of time zones over a span, for databases without a time zone database.

PostgreSQL converts to local time itself (``AT TIME ZONE``); SQLite has no zone
data, so its queries carry each zone's offsets as a ``CASE`` over the instants
where the offset changes within the span (DST transitions), found here with
:mod:`zoneinfo`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class ZoneOffsets:
    """``first`` applies before ``changes[0]``; each change (instant, offset) after it."""

    zone: str
    first: int  # seconds east of UTC
    changes: tuple[tuple[datetime, int], ...]


def _offset(zone: ZoneInfo, at: datetime) -> int:
    delta = at.astimezone(zone).utcoffset()
    return int(delta.total_seconds()) if delta is not None else 0


def _change_within(zone: ZoneInfo, lo: datetime, hi: datetime) -> datetime:
    """The first instant after ``lo`` whose offset differs from ``lo``'s (bisection to
    the second; offsets change on whole seconds)."""
    before = _offset(zone, lo)
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if _offset(zone, mid) == before:
            lo = mid
        else:
            hi = mid
    return hi.replace(microsecond=0)


@lru_cache(maxsize=256)
def offsets(zone_name: str, start: datetime, end: datetime) -> ZoneOffsets:
    """The offsets of ``zone_name`` from ``start`` to ``end`` (UTC instants). Zones change
    offset at most a few times a year, so a daily walk finds every change."""
    zone = ZoneInfo(zone_name)
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    first = current = _offset(zone, start)
    changes: list[tuple[datetime, int]] = []
    step, at = timedelta(hours=12), start
    while at < end:
        nxt = min(at + step, end)
        if _offset(zone, nxt) != current:
            when = _change_within(zone, at, nxt)
            current = _offset(zone, when)
            changes.append((when, current))
        at = nxt
    return ZoneOffsets(zone_name, first, tuple(changes))
