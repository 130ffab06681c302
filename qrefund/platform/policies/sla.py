"""SLA clocks: calendar hours, or working hours in the merchant's time zone.

Working time is Monday to Friday between the policy's opening and closing hour,
minus the public holidays of the merchant's country, plus the official make-up
working days some countries declare (China's 调休 Saturdays), both taken from the
maintained ``holidays`` package. Arithmetic is done on UTC instants, so daylight
saving changes in the merchant's zone cost or add no phantom hour.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo

import holidays

from qrefund.platform.vocabulary import SlaClock

# Far more than any SLA needs (720 working hours is under a year); it bounds the walk
# should a calendar ever have no working day at all.
MAX_DAYS = 3 * 366


class ClockSettings(Protocol):
    """What a policy (a stored version or the built-in defaults) says about its clock."""

    @property
    def sla_clock(self) -> str: ...

    @property
    def business_day_start_hour(self) -> int: ...

    @property
    def business_day_end_hour(self) -> int: ...


@lru_cache(maxsize=64)
def _calendar(country: str) -> holidays.HolidayBase | None:
    try:
        return holidays.country_holidays(country.upper())
    except NotImplementedError:  # no calendar for that country: weekends only
        return None


def is_working_day(day: date, country: str) -> bool:
    calendar = _calendar(country)
    if calendar is None:
        return day.weekday() < 5
    return bool(calendar.is_working_day(day))


def _windows(start: datetime, clock: ClockSettings, tz: str, country: str) -> Iterator[
    tuple[datetime, datetime]
]:
    """Working windows (UTC start, UTC end) from ``start`` on, clipped at ``start``."""
    zone = ZoneInfo(tz)
    day = start.astimezone(zone).date()
    for _ in range(MAX_DAYS):
        if is_working_day(day, country):
            opening = datetime.combine(day, time(clock.business_day_start_hour), zone)
            closing = (
                datetime.combine(day + timedelta(days=1), time(0), zone)
                if clock.business_day_end_hour >= 24
                else datetime.combine(day, time(clock.business_day_end_hour), zone)
            )
            begin = max(start, opening.astimezone(UTC))
            end = closing.astimezone(UTC)
            if begin < end:
                yield begin, end
        day += timedelta(days=1)


def add_working_time(
    start: datetime, amount: timedelta, clock: ClockSettings, tz: str, country: str
) -> datetime:
    """The instant when ``amount`` of working time has passed after ``start``."""
    remaining = amount
    for begin, end in _windows(start.astimezone(UTC), clock, tz, country):
        if remaining <= end - begin:
            return begin + remaining
        remaining -= end - begin
    raise ValueError("no working time within the search horizon")


def working_time_between(
    start: datetime, end: datetime, clock: ClockSettings, tz: str, country: str
) -> timedelta:
    total = timedelta(0)
    if end <= start:
        return total
    for begin, close in _windows(start.astimezone(UTC), clock, tz, country):
        if begin >= end:
            break
        total += min(close, end) - begin
    return total


def due_at(policy: ClockSettings, start: datetime, hours: int, tz: str, country: str) -> datetime:
    """When ``hours`` SLA hours counted from ``start`` run out under ``policy``'s clock."""
    if policy.sla_clock == SlaClock.BUSINESS_HOURS:
        return add_working_time(start, timedelta(hours=hours), policy, tz, country)
    return start.astimezone(UTC) + timedelta(hours=hours)


def shift(
    policy: ClockSettings, due: datetime, paused_from: datetime, paused_to: datetime, tz: str,
    country: str,
) -> datetime:
    """``due`` moved forward by the SLA time that passed while the clock was paused."""
    if policy.sla_clock == SlaClock.BUSINESS_HOURS:
        lost = working_time_between(paused_from, paused_to, policy, tz, country)
        return add_working_time(due, lost, policy, tz, country) if lost else due
    return due + max(paused_to - paused_from, timedelta(0))


def sla_time_between(policy: ClockSettings, start: datetime, end: datetime, tz: str,
                     country: str) -> timedelta:
    """The SLA time that passes from ``start`` to ``end`` under ``policy``'s clock (working
    time for business hours): what a pause costs a deadline."""
    if policy.sla_clock == SlaClock.BUSINESS_HOURS:
        return working_time_between(start, end, policy, tz, country)
    return max(end - start, timedelta(0))


def add_sla_time(policy: ClockSettings, due: datetime, amount: timedelta, tz: str,
                 country: str) -> datetime:
    """``due`` moved forward by ``amount`` of SLA time (as measured by
    :func:`sla_time_between`)."""
    if amount <= timedelta(0):
        return due
    if policy.sla_clock == SlaClock.BUSINESS_HOURS:
        return add_working_time(due, amount, policy, tz, country)
    return due + amount
