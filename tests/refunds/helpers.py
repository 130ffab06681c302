"""Building blocks for refund tests: transactions, cases and totals through the services."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from qrefund.platform.clock import utcnow
from qrefund.platform.db import Database
from qrefund.platform.refunds import intake
from qrefund.platform.refunds.models import RefundCase, RefundCaseEvent
from qrefund.platform.scope import TenantScope
from qrefund.platform.transactions import service as transactions
from qrefund.platform.transactions.models import PaymentChannel, Transaction, TransactionStatus
from qrefund.platform.vocabulary import RefundReason, RequestChannel
from qrefund.tenants.auth import authenticate
from tests.support.raw import unchecked
from tests.support.world import World

_counter = iter(range(1, 10**9))


async def scope_of(db: Database, world: World, who: str, role: str = "ADMIN") -> TenantScope:
    return await authenticate(db, world.key(who, role))


async def record_txn(
    db: Database, world: World, who: str = "a", *, amount: str = "100.00", currency: str = "CNY",
    status: TransactionStatus = TransactionStatus.SUCCEEDED, paid_at: datetime | None = None,
) -> Transaction:
    scope = await scope_of(db, world, who, "INTEGRATION")
    async with db.unit_of_work(scope) as uow:
        return await transactions.record(uow, transactions.RecordTransaction(
            merchant_id=None, merchant_order_no=f"ORD-{next(_counter)}",
            channel=PaymentChannel.WECHAT_PAY, provider_reference=f"wx-{uuid.uuid4().hex[:12]}",
            amount=Decimal(amount), currency=currency, status=status,
            paid_at=paid_at or utcnow() - timedelta(hours=1),
        ))


async def submit(db: Database, world: World, txn: Transaction, amount: str = "10.00",
                 who: str = "a", role: str = "INTEGRATION", **kw: Any) -> RefundCase:
    scope = await scope_of(db, world, who, role)
    kw.setdefault("reason", RefundReason.QUALITY_ISSUE)
    kw.setdefault("channel", RequestChannel.API)
    async with db.unit_of_work(scope) as uow:
        return await intake.submit(uow, intake.SubmitRefund(
            tenant_id=txn.tenant_id, transaction_id=txn.id, amount=Decimal(amount), **kw))


async def reload_txn(db: Database, world: World, txn: Transaction) -> Transaction:
    """A detached copy with fresh amounts (a read-only unit expires what it loaded)."""
    scope = await scope_of(db, world, "operator")
    async with db.unit_of_work(scope) as uow:
        fresh = await transactions.get(uow, txn.tenant_id, txn.id)
        uow._session.expunge(fresh)
    return fresh


async def counts(db: Database, world: World) -> dict[str, int]:
    """Row counts that must not move when a request is refused."""
    scope = await scope_of(db, world, "operator")
    async with db.unit_of_work(scope) as uow:
        cases = (await unchecked(uow).execute(
            select(func.count()).select_from(RefundCase))).scalar()
        events = (await unchecked(uow).execute(
            select(func.count()).select_from(RefundCaseEvent))).scalar()
        return {"cases": int(cases or 0), "events": int(events or 0)}
