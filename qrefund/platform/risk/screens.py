"""The screens the risk domain registers (qrefund.platform.screening): the rules run in
the unit that records a payment or opens a refund case."""

from __future__ import annotations

from qrefund.platform.db import UnitOfWork
from qrefund.platform.refunds.models import RefundCase
from qrefund.platform.risk import engine
from qrefund.platform.risk.repository import RiskFlagRepository
from qrefund.platform.risk.rules import Check
from qrefund.platform.transactions.models import Transaction
from qrefund.platform.vocabulary import RiskFlag
from qrefund.tenants.service import get_tenant


def _worth_checking(txn: Transaction) -> bool:
    """Only payments carrying what the transaction rules compare cost any statement."""
    return txn.expected_amount_minor is not None or bool(txn.payer_fp and txn.terminal_id)


async def on_transaction(uow: UnitOfWork, txn: Transaction) -> None:
    if not _worth_checking(txn):
        return
    merchant = await get_tenant(uow, txn.tenant_id)
    now = engine.now()
    settings = await engine.rule_settings(uow, merchant, now)
    await engine.run(Check(uow=uow, merchant=merchant, txn=txn, now=now),
                     engine.TRANSACTION_RULES, settings)


async def on_refund_case(uow: UnitOfWork, case: RefundCase, txn: Transaction) -> list[str]:
    """Run the case rules; ANOMALY when the case or its payment has an open flag."""
    merchant = await get_tenant(uow, txn.tenant_id)
    now = engine.now()
    settings = await engine.rule_settings(uow, merchant, now)
    created = await engine.run(Check(uow=uow, merchant=merchant, txn=txn, now=now, case=case),
                               engine.CASE_RULES, settings)
    if created:
        return [RiskFlag.ANOMALY.value]
    if await RiskFlagRepository(uow).open_on_payment(txn.tenant_id, txn.id):
        await engine.hold_case(uow, case)
        return [RiskFlag.ANOMALY.value]
    return []
