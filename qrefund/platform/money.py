"""Money as integer minor units plus an ISO 4217 currency; never floats.

Exponents come from the CLDR data shipped with Babel (CNY 2, JPY 0, KWD 3).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from babel.numbers import get_currency_precision, list_currencies

from qrefund.platform.errors import InvalidInput

# Anything above this is not a QR payment; it is a typo or an attack (and it keeps
# amounts far inside a signed 64-bit column).
MAX_MINOR_UNITS = 10**13


@lru_cache(maxsize=1)
def _currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def normalize_currency(code: str, field: str = "currency") -> str:
    upper = (code or "").strip().upper()
    if len(upper) != 3 or upper not in _currencies():
        raise InvalidInput(f"unknown currency {code[:8]!r}", field=[field], code="INVALID_CURRENCY")
    return upper


@lru_cache(maxsize=512)
def exponent(currency: str) -> int:
    return int(get_currency_precision(currency))


@dataclass(frozen=True, slots=True)
class Money:
    minor: int
    currency: str

    @classmethod
    def parse(cls, amount: Decimal | str, currency: str, field: str = "amount") -> Money:
        """Parse a decimal amount, refusing too many decimals, <= 0 and absurd values."""
        cur = normalize_currency(currency)
        try:
            value = Decimal(str(amount))
        except InvalidOperation:
            raise InvalidInput(
                "amount is not a number", field=[field], code="INVALID_AMOUNT"
            ) from None
        if not value.is_finite():
            raise InvalidInput("amount is not a number", field=[field], code="INVALID_AMOUNT")
        exp = exponent(cur)
        scaled = value.scaleb(exp)
        if scaled != scaled.to_integral_value():
            raise InvalidInput(
                f"{cur} amounts have at most {exp} decimal places",
                field=[field],
                code="INVALID_AMOUNT",
            )
        minor = int(scaled)
        if minor <= 0:
            raise InvalidInput(
                "amount must be greater than zero", field=[field], code="INVALID_AMOUNT"
            )
        if minor > MAX_MINOR_UNITS:
            raise InvalidInput("amount is too large", field=[field], code="INVALID_AMOUNT")
        return cls(minor, cur)

    @property
    def decimal(self) -> Decimal:
        exp = exponent(self.currency)
        return Decimal(self.minor).scaleb(-exp).quantize(Decimal(1).scaleb(-exp))

    def __str__(self) -> str:
        return f"{self.decimal} {self.currency}"
