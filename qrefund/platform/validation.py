"""Small input checks shared by services; each failure is a typed user error."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from qrefund.platform.errors import CommonError, InvalidInput

_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
_CODE = re.compile(r"^[A-Za-z0-9._:/#-]+$")
# Control characters other than tab and line breaks: PostgreSQL refuses NUL in text
# (an internal error instead of a user error), and the rest only hide things.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# No single text field of the API is longer; per-field limits are smaller and checked
# by the services with the field's own message.
MAX_TEXT = 20_000
# Datetimes the platform can store, compare and add deadlines to without overflow.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def normalized_text(value: str, field: Sequence[str]) -> str:
    """Any string that enters the platform: valid Unicode without NUL or control
    characters (tab and line breaks allowed), at most :data:`MAX_TEXT` characters, NFC.

    PostgreSQL refuses NUL and psycopg cannot encode a lone surrogate (both were
    internal errors); control characters only hide things; NFC makes "é" typed two
    ways one value.
    """
    if len(value) > MAX_TEXT:
        raise InvalidInput(f"{_name(field)} is longer than {MAX_TEXT} characters",
                           field=field, code=CommonError.TOO_LONG)
    if _SURROGATE.search(value):
        raise InvalidInput(f"{_name(field)} is not valid Unicode (it has a lone surrogate)",
                           field=field, code=CommonError.INVALID_FORMAT)
    if _CONTROL.search(value):
        raise InvalidInput(f"{_name(field)} contains control characters",
                           field=field, code=CommonError.INVALID_FORMAT)
    return value if value.isascii() else unicodedata.normalize("NFC", value)


def normalized_datetime(value: datetime, field: Sequence[str]) -> datetime:
    """Any datetime that enters the platform: with a UTC offset, within a sane range, in UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{_name(field)} needs a time zone offset (e.g. +08:00 or Z)",
                           field=field, code=CommonError.INVALID_DATETIME)
    try:
        utc: datetime | None = value.astimezone(UTC)
    except OverflowError:  # year 1 with a positive offset has no UTC instant
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise InvalidInput(
            f"{_name(field)} must be between {EARLIEST.year} and {LATEST.year - 1}",
            field=field, code=CommonError.INVALID_DATETIME)
    return utc


def _name(field: Sequence[str]) -> str:
    return ".".join(field) if field else "value"


def text(value: str | None, field: str, *, max_len: int, required: bool = True) -> str | None:
    if value is None or not value.strip():
        if required:
            raise InvalidInput(f"{field} is required", field=[field], code=CommonError.REQUIRED)
        return None
    value = value.strip()
    if len(value) > max_len:
        raise InvalidInput(
            f"{field} is longer than {max_len} characters", field=[field], code=CommonError.TOO_LONG
        )
    if _CONTROL.search(value):
        raise InvalidInput(
            f"{field} contains control characters", field=[field], code=CommonError.INVALID_FORMAT
        )
    return value


def required_text(value: str | None, field: str, *, max_len: int) -> str:
    result = text(value, field, max_len=max_len, required=True)
    assert result is not None
    return result


def code(value: str | None, field: str, *, max_len: int, required: bool = True) -> str | None:
    """Identifiers from other systems: printable, no spaces."""
    result = text(value, field, max_len=max_len, required=required)
    if result is not None and not _CODE.match(result):
        raise InvalidInput(
            f"{field} has characters that are not allowed", field=[field],
            code=CommonError.INVALID_FORMAT,
        )
    return result


def slug(value: str, field: str = "slug") -> str:
    value = (value or "").strip().lower()
    if not _SLUG.match(value):
        raise InvalidInput(
            "slug must be 1-64 lowercase letters, digits or dashes",
            field=[field],
            code=CommonError.INVALID_SLUG,
        )
    return value


def timezone(value: str | None, field: str = "timezone") -> str:
    name = (value or "Asia/Shanghai").strip()
    try:
        if len(name) > 64:
            raise ZoneInfoNotFoundError(name)
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"unknown time zone {name[:64]!r}", field=[field], code=CommonError.INVALID_TIMEZONE
        ) from None
    return name


def aware(value: datetime, field: str) -> datetime:
    if value.tzinfo is None:
        raise InvalidInput(
            f"{field} needs a time zone offset", field=[field], code=CommonError.INVALID_DATETIME
        )
    return value
