"""Payments with a refund case each, written through the services, for tests of pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from qrefund.platform.db import Database
from qrefund.platform.refunds import intake
from qrefund.platform.transactions import service
from qrefund.platform.transactions.models import PaymentChannel, TransactionStatus
from qrefund.platform.vocabulary import RefundReason, RequestChannel
from qrefund.tenants.auth import authenticate
from tests.support.world import World


async def payments_with_cases(db: Database, world: World, n: int, *, prefix: str) -> None:
    """``n`` paid payments of merchant ``a`` a minute apart, each with a submitted case."""
    scope = await authenticate(db, world.key("a", "INTEGRATION"))
    async with db.unit_of_work(scope) as uow:
        for i in range(n):
            txn = await service.record(uow, service.RecordTransaction(
                merchant_id=None, merchant_order_no=f"{prefix}-{i}",
                channel=PaymentChannel.ALIPAY, provider_reference=f"{prefix}{i}",
                amount=Decimal("20.00"), currency="CNY", status=TransactionStatus.SUCCEEDED,
                paid_at=datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=i)))
            await intake.submit(uow, intake.SubmitRefund(
                tenant_id=txn.tenant_id, transaction_id=txn.id, amount=Decimal("5.00"),
                reason=RefundReason.OTHER, channel=RequestChannel.API))
