"""Building blocks for risk tests: payments and cases through the services, flags read back,
history arranged by moving rows back in time."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update

from qrefund.platform.clock import utcnow
from qrefund.platform.db import Database
from qrefund.platform.refunds import intake
from qrefund.platform.refunds.models import RefundCase
from qrefund.platform.risk.models import RiskFlagRecord
from qrefund.platform.transactions import service as transactions
from qrefund.platform.transactions.models import PaymentChannel, Transaction, TransactionStatus
from qrefund.platform.vocabulary import RefundReason, RequestChannel
from tests.refunds.helpers import scope_of
from tests.support.raw import unchecked
from tests.support.world import World

_counter = iter(range(1, 10**9))


async def pay(db: Database, world: World, who: str = "a", *, amount: str = "100.00",
              terminal: str | None = "T1", store: str | None = "S1", payer: str | None = None,
              expected: str | None = None, paid_at: datetime | None = None,
              currency: str = "CNY") -> Transaction:
    scope = await scope_of(db, world, who, "INTEGRATION")
    async with db.unit_of_work(scope) as uow:
        return await transactions.record(uow, transactions.RecordTransaction(
            merchant_id=None, merchant_order_no=f"RISK-{next(_counter)}",
            channel=PaymentChannel.WECHAT_PAY, provider_reference=f"wx-{uuid.uuid4().hex[:12]}",
            amount=Decimal(amount), currency=currency, status=TransactionStatus.SUCCEEDED,
            paid_at=paid_at or utcnow() - timedelta(minutes=5), terminal_id=terminal,
            store_id=store, payer_account=payer,
            expected_amount=Decimal(expected) if expected else None))


async def refund(db: Database, world: World, txn: Transaction, amount: str = "10.00",
                 who: str = "a", role: str = "INTEGRATION", **kw: Any) -> RefundCase:
    scope = await scope_of(db, world, who, role)
    kw.setdefault("reason", RefundReason.QUALITY_ISSUE)
    kw.setdefault("channel", RequestChannel.API)
    async with db.unit_of_work(scope) as uow:
        return await intake.submit(uow, intake.SubmitRefund(
            tenant_id=txn.tenant_id, transaction_id=txn.id, amount=Decimal(amount), **kw))


async def flags(db: Database, world: World, rule: str | None = None) -> list[RiskFlagRecord]:
    scope = await scope_of(db, world, "operator")
    async with db.unit_of_work(scope, readonly=True) as uow:
        stmt = select(RiskFlagRecord).order_by(RiskFlagRecord.created_at)  # type: ignore[arg-type]
        if rule:
            stmt = stmt.where(RiskFlagRecord.rule == rule)  # type: ignore[arg-type]
        rows = list((await unchecked(uow).execute(stmt)).scalars())
        for row in rows:
            uow.expunge(row)
        return rows


async def case_row(db: Database, world: World, case: RefundCase) -> RefundCase:
    scope = await scope_of(db, world, "operator")
    async with db.unit_of_work(scope, readonly=True) as uow:
        stmt = select(RefundCase).where(RefundCase.id == case.id)  # type: ignore[arg-type]
        row: RefundCase = (await unchecked(uow).execute(stmt)).scalar_one()
        uow.expunge(row)
        return row


async def move_back(db: Database, world: World, model: Any, ids: list[uuid.UUID],
                    delta: timedelta) -> None:
    """Pretend rows were created (cases) or paid (payments) ``delta`` earlier."""
    column = model.created_at if model is RefundCase else model.paid_at
    scope = await scope_of(db, world, "operator")
    async with db.unit_of_work(scope) as uow:
        for row_id in ids:
            row = (await unchecked(uow).execute(select(column).where(model.id == row_id))
                   ).scalar_one()
            await unchecked(uow).execute(update(model).where(model.id == row_id)
                                         .values({column.key: row - delta}))
