"""Building blocks of the end-to-end channel tests: a WeChat Pay payment, its case."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx

from qrefund.jobs import runtime
from qrefund.platform.clock import utcnow
from qrefund.platform.db import Database
from qrefund.platform.payouts.models import PayoutEvent
from qrefund.platform.refunds.models import RefundCase
from qrefund.platform.transactions import service as transactions
from qrefund.platform.transactions.models import PaymentChannel, Transaction, TransactionStatus
from qrefund.tenants.auth import authenticate
from tests.channels.api import MCHID, create_wechat
from tests.channels.fake_wechatpay import FakeWeChatPay
from tests.jobs.support import approved_case
from tests.support.raw import unchecked
from tests.support.world import World

_orders = iter(range(1, 10**9))


async def wechat_txn(db: Database, world: World, amount: str = "88.00") -> Transaction:
    scope = await authenticate(db, world.key("a", "INTEGRATION"))
    async with db.unit_of_work(scope) as uow:
        return await transactions.record(uow, transactions.RecordTransaction(
            merchant_id=None, merchant_order_no=f"WX-{next(_orders)}",
            channel=PaymentChannel.WECHAT_PAY,
            provider_reference=f"4200{uuid.uuid4().int:024d}"[:32],
            amount=Decimal(amount), currency="CNY", status=TransactionStatus.SUCCEEDED,
            paid_at=utcnow() - timedelta(hours=1)))


async def wechat_case(client: httpx.AsyncClient, db: Database, world: World,
                      fake: FakeWeChatPay, amount: str = "30.00") -> tuple[dict[str, Any],
                                                                            RefundCase]:
    """A merchant with a WeChat Pay account at the fake, and an approved case of a WeChat
    Pay payment (its payout job not run yet)."""
    account = await create_wechat(client, world.key("a"), fake)
    txn = await wechat_txn(db, world)
    return account, await approved_case(db, world, amount, txn=txn)


async def post_notification(client: httpx.AsyncClient, path: str, body: bytes,
                            headers: dict[str, str]) -> httpx.Response:
    return await client.post(path, content=body,
                             headers={**headers, "Content-Type": "application/json"})


def notification(fake: FakeWeChatPay, out_refund_no: str, **options: Any
                 ) -> tuple[str, bytes, dict[str, str]]:
    return fake.notification(out_refund_no, MCHID, **options)


async def payout_event_count(db: Database) -> int:
    from sqlalchemy import func, select

    async with db.unit_of_work(runtime.system_scope("test"), readonly=True) as uow:
        return int((await unchecked(uow).execute(
            select(func.count()).select_from(PayoutEvent))).scalar_one())
