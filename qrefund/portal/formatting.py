"""Money and times as a consumer reads them, in their language."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.numbers import format_currency

from qrefund.platform.money import Money


def money(minor: int, currency: str, *, locale: str) -> str:
    """``¥12.34`` / ``CN¥12.34``: integer minor units shown in the currency's decimals."""
    return format_currency(Money(minor, currency).decimal, currency, locale=locale)


def when(moment: datetime | None, timezone: str = "Asia/Shanghai", *, locale: str) -> str:
    """A date and time in the merchant's zone (where the consumer paid)."""
    if moment is None:
        return ""
    return format_datetime(moment, "medium", tzinfo=ZoneInfo(timezone), locale=locale)
