"""Screens: checks a higher layer runs inside the unit of work that records a payment
or opens a refund case.

Transactions and refunds sit below the anomaly detection (``qrefund.platform.risk``,
which reads both), so they cannot call it; they call :func:`screen_transaction` and
:func:`screen_refund_case` here instead, and the risk domain registers its screens at
start-up (:func:`qrefund.platform.risk.install`). A screen runs in the caller's unit,
so what it writes (flags, events) commits or rolls back with the payment or case, and
a case's flags exist before its auto-approval is decided.

With nothing registered (a script that never installed risk) both calls do nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qrefund.platform.db import UnitOfWork

# (unit, transaction) -> None; (unit, case, transaction) -> reasons to hold the case back.
TransactionScreen = Callable[["UnitOfWork", Any], Awaitable[None]]
CaseScreen = Callable[["UnitOfWork", Any, Any], Awaitable[list[str]]]

_transaction_screens: list[TransactionScreen] = []
_case_screens: list[CaseScreen] = []


def register(*, transaction: TransactionScreen | None = None,
             refund_case: CaseScreen | None = None) -> None:
    """Add screens (idempotent: a screen registered twice runs once)."""
    if transaction is not None and transaction not in _transaction_screens:
        _transaction_screens.append(transaction)
    if refund_case is not None and refund_case not in _case_screens:
        _case_screens.append(refund_case)


def unregister_all() -> None:
    """Forget every screen (benchmarks measure the platform with and without them)."""
    _transaction_screens.clear()
    _case_screens.clear()


def installed() -> bool:
    return bool(_transaction_screens or _case_screens)


async def screen_transaction(uow: UnitOfWork, txn: Any) -> None:
    """Run the screens on a newly recorded (or newly settled) payment."""
    for screen in _transaction_screens:
        await screen(uow, txn)


async def screen_refund_case(uow: UnitOfWork, case: Any, txn: Any) -> list[str]:
    """Run the screens on a new case (flushed, not yet decided): the reasons found, each
    a ``RiskFlag`` value to add to the case's ``risk_flags``."""
    reasons: list[str] = []
    for screen in _case_screens:
        for reason in await screen(uow, case, txn):
            if reason not in reasons:
                reasons.append(reason)
    return reasons
