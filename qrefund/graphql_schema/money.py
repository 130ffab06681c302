"""Money on the wire: a decimal string amount plus its ISO 4217 currency."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from qrefund.platform.money import Money as DomainMoney


@strawberry.type(name="Money")
class MoneyType:
    amount: Decimal
    currency: str

    @classmethod
    def of(cls, minor: int, currency: str) -> MoneyType:
        return cls(amount=DomainMoney(minor, currency).decimal, currency=currency)
