"""Keyset (seek) pagination: cursors encode the sort key of the last row seen."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any, Generic, Self, TypeVar

import orjson

from qrefund.platform import validation
from qrefund.platform.errors import CommonError, DomainError, InvalidInput

# Our cursors are a few dozen characters; anything much longer is not one of ours.
MAX_CURSOR_LENGTH = 512

T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    items: list[T]
    cursors: list[str]
    has_next_page: bool
    has_previous_page: bool

    @classmethod
    def from_rows(
        cls, rows: Sequence[T], *, first: int, after: str | None, cursor: Callable[[T], str]
    ) -> Self:
        """A page from a query that fetched ``first + 1`` rows (the extra one says more exist)."""
        items = list(rows[:first])
        return cls(
            items=items,
            cursors=[cursor(item) for item in items],
            has_next_page=len(rows) > first,
            has_previous_page=after is not None,
        )


def rendered(rows: Sequence[Any], *, first: int, after: str | None) -> Page[dict[str, Any]]:
    """A page of rows read by ``TenantRepository.rendered_rows``: each item is the JSON
    object PostgreSQL built for the row, with the cursor it built for it."""
    page = Page.from_rows(rows, first=first, after=after, cursor=attrgetter("cursor"))
    return Page([orjson.loads(row.node) for row in page.items], page.cursors,
                page.has_next_page, page.has_previous_page)


@dataclass
class PaymentsPage(Page[T]):
    """A page of rows that refer to payments, with those payments when the page was
    asked for them, by (merchant, transaction id)."""

    transactions: dict[tuple[Any, Any], Any] = field(default_factory=dict)

    @classmethod
    def from_joined(cls, rows: Sequence[tuple[Any, ...]], *, first: int, after: str | None,
                    cursor: Callable[[T], str], payments: int | None) -> Self:
        """:meth:`from_rows` of rows read with their relations (``joined_views``): each
        row's first view is the item; ``payments`` is the place of its payment in the row
        (None: not read), None there when it has none."""
        page = cls.from_rows([row[0] for row in rows], first=first, after=after,
                             cursor=cursor)
        if payments is not None:
            page.transactions = {(t.tenant_id, t.id): t for row in rows[:first]
                                 if (t := row[payments]) is not None}
        return page


def encode_cursor(values: Sequence[Any]) -> str:
    """base64url of the JSON list of the values as text (datetimes in ISO 8601)."""
    plain = [v.isoformat() if isinstance(v, datetime) else str(v) for v in values]
    # json.dumps' own text, spelled directly when no value needs escaping (ids and
    # instants never do): a page makes 50 of these, and dumps is most of their cost.
    if all(p.isascii() and p.isprintable() and '"' not in p and "\\" not in p
           for p in plain):
        text = '["' + '", "'.join(plain) + '"]'
    else:
        text = json.dumps(plain)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> list[str]:
    """The ``arity`` plain values in a cursor; anything else is ``INVALID_CURSOR``.

    Only a flat list of strings is accepted: a cursor is client input, and nested
    JSON would let it recurse (``RecursionError``) or smuggle other types in.
    """
    try:
        values = decode_json(cursor)
        if not isinstance(values, list) or len(values) != arity:
            raise ValueError
        if not all(isinstance(v, str) for v in values):
            raise ValueError
        return values
    except ValueError:
        raise invalid_cursor() from None


def decode_json(cursor: str, max_length: int = MAX_CURSOR_LENGTH) -> Any:
    """The JSON inside a base64url cursor (ValueError for anything malformed)."""
    if not cursor or len(cursor) > max_length:
        raise ValueError("cursor length")
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError("cursor encoding") from exc


def cursor_datetime(value: str) -> datetime:
    """A datetime position of a cursor: aware and in range, or ValueError."""
    try:
        return validation.normalized_datetime(datetime.fromisoformat(value), ["after"])
    except DomainError as exc:
        raise ValueError(exc.message) from exc


def invalid_cursor() -> InvalidInput:
    return InvalidInput("after is not a valid cursor", field=["after"],
                        code=CommonError.INVALID_CURSOR)


def parse_cursor(cursor: str, *parsers: Callable[[str], Any]) -> tuple[Any, ...]:
    """Decode a cursor and convert each position (``uuid.UUID``, ``datetime.fromisoformat``);
    a value that does not convert is an ``INVALID_CURSOR`` user error."""
    raw = decode_cursor(cursor, len(parsers))
    try:
        return tuple(parse(value) for parse, value in zip(parsers, raw, strict=True))
    except ValueError:
        raise invalid_cursor() from None


def page_size(first: int | None, *, default: int, maximum: int) -> int:
    if first is None:
        return default
    if first < 1 or first > maximum:
        raise InvalidInput(
            f"first must be between 1 and {maximum}", field=["first"],
            code=CommonError.INVALID_PAGE_SIZE,
        )
    return first
