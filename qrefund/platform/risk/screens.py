"""The screens the risk domain registers (qrefund.platform.screening): the rules run in
the unit that records a payment or opens a refund case."""

from __future__ import annotations

import uuid

from qrefund.platform.db import UnitOfWork
from qrefund.platform.refunds.models import RefundCase
from qrefund.platform.risk import engine
from qrefund.platform.risk.rules import Check, duplicate_charge
from qrefund.platform.transactions.models import Transaction
from qrefund.platform.vocabulary import RiskFlag
from qrefund.tenants.models import Tenant
from qrefund.tenants.service import get_tenant


async def _worth_checking(uow: UnitOfWork, txn: Transaction) -> bool:
    """Whether a transaction rule could fire at all, before the merchant's settings are
    read: a payment without an expected amount that differs, and without another
    matching payment, costs at most one statement (none without a payer and terminal)."""
    expected = txn.expected_amount_minor
    if expected is not None and expected != txn.amount_minor:
        return True
    return bool(await duplicate_charge.candidates(uow, txn))


async def _merchant(uow: UnitOfWork, tenant_id: uuid.UUID) -> Tenant:
    """The merchant, from the unit when the caller read it already (intake has)."""
    cached = uow.cached(Tenant, (tenant_id,))
    return cached if isinstance(cached, Tenant) else await get_tenant(uow, tenant_id)


async def on_transaction(uow: UnitOfWork, txn: Transaction) -> None:
    if not await _worth_checking(uow, txn):
        return
    merchant = await _merchant(uow, txn.tenant_id)
    now = engine.now()
    settings = await engine.rule_settings(uow, merchant, now)
    await engine.run(Check(uow=uow, merchant=merchant, txn=txn, now=now),
                     engine.TRANSACTION_RULES, settings)


async def on_refund_case(uow: UnitOfWork, case: RefundCase, txn: Transaction) -> list[str]:
    """Run the case rules; ANOMALY when the case or its payment has an open flag."""
    merchant = await _merchant(uow, txn.tenant_id)
    now = engine.now()
    # The payment's own flag is read with the settings, before the rules run: a case
    # rule flags the case, never its payment, so what it would find is the same.
    settings, payment_flagged = await engine.case_rule_settings(uow, merchant, now, txn)
    created = await engine.run(Check(uow=uow, merchant=merchant, txn=txn, now=now, case=case),
                               engine.CASE_RULES, settings)
    if created:
        return [RiskFlag.ANOMALY.value]
    if payment_flagged:
        await engine.hold_case(uow, case)
        return [RiskFlag.ANOMALY.value]
    return []
