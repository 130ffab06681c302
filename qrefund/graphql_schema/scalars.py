"""Strict wire formats for the ``Decimal`` and ``DateTime`` scalars.

Strawberry's defaults accept JSON numbers and exponent forms for ``Decimal``
(``1E+600000`` then costs seconds of CPU to turn into minor units) and parse
``DateTime`` with messages from Python's internals (``invalid literal for int()
with base 10``). These overrides keep the scalar names (and the SDL) unchanged
and answer a malformed value with a GraphQL error a client can act on.

What the values mean (a datetime needs an offset; an amount needs the currency's
precision) is checked later, where the answer can be a ``userError``: see
:mod:`qrefund.graphql_schema.inputs` and :class:`qrefund.platform.money.Money`.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.schema.types.base_scalars import DateTimeDefinition, DecimalDefinition
from strawberry.types.scalar import ScalarDefinition

from qrefund.platform.money import PLAIN_DECIMAL

_DECIMAL_HELP = 'a decimal string such as "36.50" (digits, at most one dot, no exponent)'

# ISO 8601 / RFC 3339 date-time, with an optional UTC offset (checked by the inputs
# layer, which answers its absence with a userError naming the field).
_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?"
    r"(?:[Zz]|[+-][0-9]{2}:?[0-9]{2})?"
)
_DATETIME_HELP = "an ISO 8601 date and time with a UTC offset, such as 2026-11-26T12:30:00+08:00"


def _refuse(kind: str, value: object, expected: str) -> StrawberryInputCoercionError:
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    return StrawberryInputCoercionError(f"{kind} must be {expected}; got {shown}")


def parse_decimal(value: object) -> Decimal:
    if not isinstance(value, str):
        # JSON numbers are binary floats on most clients: 0.1 + 0.2 is not 0.3.
        raise _refuse("Decimal", value, _DECIMAL_HELP + ", not a JSON number")
    if not PLAIN_DECIMAL.fullmatch(value):
        raise _refuse("Decimal", value, _DECIMAL_HELP)
    return Decimal(value)


def parse_datetime(value: object) -> datetime:
    if not isinstance(value, str) or not _DATETIME.fullmatch(value):
        raise _refuse("DateTime", value, _DATETIME_HELP)
    text = value.replace("z", "Z").replace("t", "T")
    try:
        return datetime.fromisoformat(text)
    except ValueError:  # the shape is right but the calendar is not (month 13, hour 25)
        raise _refuse("DateTime", value, "a real date and time") from None


def _definition(base: ScalarDefinition, parse: Any, description: str) -> ScalarDefinition:
    return ScalarDefinition(
        name=base.name,
        description=description,
        specified_by_url=None,
        serialize=base.serialize,
        parse_value=parse,
        parse_literal=None,  # literals go through parse_value as their string value
        origin=base.origin,
    )


DecimalScalar = _definition(
    DecimalDefinition,
    parse_decimal,
    "A decimal number as a string, e.g. \"36.50\"; amounts are in the currency's units.",
)
DateTimeScalar = _definition(
    DateTimeDefinition,
    parse_datetime,
    "An ISO 8601 date and time with a UTC offset, e.g. 2026-11-26T12:30:00+08:00.",
)

SCALAR_OVERRIDES: dict[object, Any] = {Decimal: DecimalScalar, datetime: DateTimeScalar}
