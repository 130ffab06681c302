"""Anomaly detection (自动识别异常交易): rules over payments and refund cases, flags with
evidence, reviewer feedback that tunes the rules per merchant.

:func:`install` registers the screens that run when a payment is recorded and when a
refund case is opened (see :mod:`qrefund.platform.screening`); entry points (the app,
workers, the CLI) call it at start-up.
"""

from __future__ import annotations


def install() -> None:
    """Register the risk screens (idempotent)."""
    from qrefund.platform import screening
    from qrefund.platform.risk import screens

    screening.register(transaction=screens.on_transaction, refund_case=screens.on_refund_case)
