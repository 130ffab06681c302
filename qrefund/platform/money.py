"""Money as integer minor units plus an ISO 4217 currency; never floats.

Exponents come from the CLDR data shipped with Babel (CNY 2, JPY 0, KWD 3).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache

from babel.numbers import get_currency_precision, list_currencies

from qrefund.platform.errors import CommonError, InvalidInput

# Anything above this is not a QR payment; it is a typo or an attack (and it keeps
# amounts far inside a signed 64-bit column).
MAX_MINOR_UNITS = 10**13
# How an amount is written on the wire and in files: optional minus (refused later with
# a clear message), digits, at most one dot. No exponent, grouping or locale forms.
PLAIN_DECIMAL = re.compile(r"-?[0-9]{1,20}(?:\.[0-9]{1,12})?")
# The most integer digits an amount can have (well above any currency's largest valid
# amount; checked before the value is scaled to minor units).
MAX_DIGITS = 15


@lru_cache(maxsize=1)
def _currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def normalize_currency(code: str, field: str = "currency") -> str:
    upper = (code or "").strip().upper()
    if len(upper) != 3 or upper not in _currencies():
        raise InvalidInput(f"unknown currency {code[:8]!r}", field=[field],
                           code=CommonError.INVALID_CURRENCY)
    return upper


def _decimal(amount: Decimal | str, field: str) -> Decimal:
    """A finite decimal in plain notation (no exponent, no NaN or Infinity)."""
    if isinstance(amount, str) and not PLAIN_DECIMAL.fullmatch(amount.strip()):
        raise InvalidInput(
            'amount must be a plain decimal such as "36.50" (digits and at most one dot)',
            field=[field], code=CommonError.INVALID_AMOUNT,
        )
    try:
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount).strip())
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise InvalidInput("amount is not a number", field=[field], code=CommonError.INVALID_AMOUNT)
    if int(value.as_tuple().exponent) > 0:
        raise InvalidInput(
            "amount must be written in plain digits, without an exponent",
            field=[field], code=CommonError.INVALID_AMOUNT,
        )
    return value


@lru_cache(maxsize=512)
@cache
def exponent(currency: str) -> int:
    # Cached: Babel looks the code up in its locale data each time (a page asks 150x).
    return int(get_currency_precision(currency))


@dataclass(frozen=True, slots=True)
class Money:
    minor: int
    currency: str

    @classmethod
    def parse(cls, amount: Decimal | str, currency: str, field: str = "amount") -> Money:
        """Parse a plain decimal amount, refusing exponents, too many decimals, <= 0
        and absurd values.

        The size is judged from the digits *before* anything is converted: turning
        ``1E+600000`` into an integer costs seconds of CPU, which an unauthenticated
        caller could spend at will.
        """
        cur = normalize_currency(currency)
        value = _decimal(amount, field)
        exp = exponent(cur)
        if value.adjusted() > MAX_DIGITS:  # ten to the power of adjusted() <= |value|
            raise InvalidInput("amount is too large", field=[field],
                               code=CommonError.INVALID_AMOUNT)
        scaled = value.scaleb(exp)
        if scaled != scaled.to_integral_value():
            raise InvalidInput(
                f"{cur} amounts have at most {exp} decimal places",
                field=[field],
                code=CommonError.INVALID_AMOUNT,
            )
        minor = int(scaled)
        if minor <= 0:
            raise InvalidInput(
                "amount must be greater than zero", field=[field], code=CommonError.INVALID_AMOUNT
            )
        if minor > MAX_MINOR_UNITS:
            raise InvalidInput("amount is too large", field=[field],
                               code=CommonError.INVALID_AMOUNT)
        return cls(minor, cur)

    @property
    def decimal(self) -> Decimal:
        # An integer scaled by 10^-exp has exactly exp decimal places ("10.00", "0.00",
        # "7" for JPY): what quantizing to them would give, for less.
        return Decimal(self.minor).scaleb(-exponent(self.currency))

    def __str__(self) -> str:
        return f"{self.decimal} {self.currency}"
