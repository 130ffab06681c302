"""Small input checks shared by services; each failure is a typed user error."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from qrefund.platform.errors import InvalidInput

_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
_CODE = re.compile(r"^[A-Za-z0-9._:/#-]+$")
# Control characters other than tab and line breaks: PostgreSQL refuses NUL in text
# (an internal error instead of a user error), and the rest only hide things.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def text(value: str | None, field: str, *, max_len: int, required: bool = True) -> str | None:
    if value is None or not value.strip():
        if required:
            raise InvalidInput(f"{field} is required", field=[field], code="REQUIRED")
        return None
    value = value.strip()
    if len(value) > max_len:
        raise InvalidInput(
            f"{field} is longer than {max_len} characters", field=[field], code="TOO_LONG"
        )
    if _CONTROL.search(value):
        raise InvalidInput(
            f"{field} contains control characters", field=[field], code="INVALID_FORMAT"
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
            f"{field} has characters that are not allowed", field=[field], code="INVALID_FORMAT"
        )
    return result


def slug(value: str, field: str = "slug") -> str:
    value = (value or "").strip().lower()
    if not _SLUG.match(value):
        raise InvalidInput(
            "slug must be 1-64 lowercase letters, digits or dashes",
            field=[field],
            code="INVALID_SLUG",
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
            f"unknown time zone {name[:64]!r}", field=[field], code="INVALID_TIMEZONE"
        ) from None
    return name


def aware(value: datetime, field: str) -> datetime:
    if value.tzinfo is None:
        raise InvalidInput(
            f"{field} needs a time zone offset", field=[field], code="INVALID_DATETIME"
        )
    return value
