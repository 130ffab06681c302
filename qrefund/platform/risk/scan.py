"""The periodic scan of one merchant: the rules again over the payments and cases of the
last day (baselines have moved, other merchants' cases have arrived, a rule was
switched on), including those that need a wider view than a request has
(CROSS_MERCHANT_CONTACT). Flags are per (subject, rule): a scan never doubles one."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from qrefund.platform.db import UnitOfWork
from qrefund.platform.refunds import service as refunds
from qrefund.platform.risk import engine
from qrefund.platform.risk.repository import ScanRepository
from qrefund.platform.risk.rules import Check
from qrefund.platform.transactions import service as transactions
from qrefund.tenants.service import get_tenant

LOOKBACK = timedelta(days=1)
MAX_SUBJECTS = 2000  # per kind and run: the next run carries on with what is newer


@dataclass(frozen=True)
class ScanResult:
    transactions: int
    refund_cases: int
    flagged: int


async def scan_merchant(uow: UnitOfWork, merchant_id: uuid.UUID, *, now: datetime | None = None
                        ) -> ScanResult:
    merchant = await get_tenant(uow, merchant_id)
    at = now or engine.now()
    settings = await engine.rule_settings(uow, merchant, at)
    repo = ScanRepository(uow)
    txn_ids = await repo.recent_transactions(merchant.id, at - LOOKBACK, MAX_SUBJECTS)
    case_keys = await repo.recent_cases(merchant.id, at - LOOKBACK, MAX_SUBJECTS)
    # Two batch reads for every subject; a case is row-locked only when it gets a flag.
    txns = await transactions.by_keys(
        uow, [(merchant.id, t) for t in {*txn_ids, *(t for _, t in case_keys)}])
    cases = await refunds.cases_by_keys(uow, [(merchant.id, c) for c, _ in case_keys])
    flagged = 0
    for txn_id in txn_ids:
        check = Check(uow=uow, merchant=merchant, txn=txns[(merchant.id, txn_id)], now=at,
                      scan=True)
        flagged += len(await engine.run(check, engine.TRANSACTION_RULES, settings))
    for case_id, txn_id in case_keys:
        check = Check(uow=uow, merchant=merchant, txn=txns[(merchant.id, txn_id)], now=at,
                      case=cases[(merchant.id, case_id)], scan=True)
        flagged += len(await engine.run(check, engine.CASE_RULES, settings))
    return ScanResult(transactions=len(txn_ids), refund_cases=len(case_keys), flagged=flagged)


async def merchants(uow: UnitOfWork) -> list[uuid.UUID]:
    """Active merchants with a payment or case in the last day (the scan's fan-out)."""
    return await ScanRepository(uow).active_merchants(engine.now() - LOOKBACK)
