"""Building blocks for job tests: real workers, cases through the real services."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from redis import Redis
from rq import Queue
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from sqlalchemy import func, select
from sqlmodel import col

from qrefund.jobs import runtime
from qrefund.jobs.registry import QUEUE_MAINTENANCE, QUEUE_PAYOUTS, QUEUE_RELAY, QUEUES
from qrefund.jobs.worker import ThreadWorker
from qrefund.platform.clock import utcnow
from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from qrefund.platform.outbox.models import DomainEvent
from qrefund.platform.payouts.models import Payout
from qrefund.platform.payouts.sandbox import SandboxChannel
from qrefund.platform.refunds import intake
from qrefund.platform.refunds import service as refunds
from qrefund.platform.refunds.models import RefundCase
from qrefund.platform.transactions import service as transactions
from qrefund.platform.transactions.models import PaymentChannel, Transaction, TransactionStatus
from qrefund.platform.vocabulary import RefundMethod, RefundReason, RequestChannel
from qrefund.tenants.auth import authenticate
from tests.conftest import TEST_KEY
from tests.support.raw import unchecked
from tests.support.world import World

MY_QUEUES = (QUEUE_RELAY, QUEUE_PAYOUTS, QUEUE_MAINTENANCE)
# The relay and the maintenance jobs it starts (deadline timers), without payouts.
BACKGROUND = (QUEUE_RELAY, QUEUE_MAINTENANCE)
_orders = iter(range(1, 10**9))


@dataclass
class JobHarness:
    db: Database  # the jobs' (un-pooled) database
    redis: Redis
    settings: Settings

    def _burst(self, queues: tuple[str, ...]) -> bool:
        worker = ThreadWorker(list(queues), connection=self.redis)
        return worker.work(burst=True, with_scheduler=True, logging_level="WARNING")

    def _due_scheduled(self, queues: tuple[str, ...]) -> bool:
        now = utcnow().timestamp()
        return any(ScheduledJobRegistry(q, connection=self.redis).get_jobs_to_schedule(now)
                   for q in queues)

    async def drain(self, queues: tuple[str, ...] = MY_QUEUES, rounds: int = 30) -> int:
        """Run real RQ workers (in a thread) until the queues and due retries are empty."""
        worked = 0
        for _ in range(rounds):
            if await asyncio.to_thread(self._burst, queues):
                worked += 1
            elif not self._due_scheduled(queues):
                break
        return worked

    def queued(self, queue: str) -> list[Any]:
        return Queue(queue, connection=self.redis).get_jobs()

    def failed(self, queue: str) -> list[str]:
        return FailedJobRegistry(queue, connection=self.redis).get_job_ids()

    def sandbox(self) -> SandboxChannel:
        return SandboxChannel(lambda: self.redis)

    def clear_queues(self) -> None:
        for name in QUEUES:
            Queue(name, connection=self.redis).empty()


async def as_(db: Database, world: World, who: str, role: str = "ADMIN") -> Any:
    return await authenticate(db, world.key(who, role))


async def record_txn(db: Database, world: World, who: str = "a", amount: str = "500.00",
                     currency: str = "CNY") -> Transaction:
    scope = await as_(db, world, who, "INTEGRATION")
    async with db.unit_of_work(scope) as uow:
        return await transactions.record(uow, transactions.RecordTransaction(
            merchant_id=None, merchant_order_no=f"JOB-{next(_orders)}",
            channel=PaymentChannel.ALIPAY, provider_reference=f"ali-{uuid.uuid4().hex[:10]}",
            amount=Decimal(amount), currency=currency, status=TransactionStatus.SUCCEEDED,
            paid_at=utcnow() - timedelta(hours=2)))


async def submitted_case(db: Database, world: World, amount: str = "10.00", who: str = "a",
                         txn: Transaction | None = None, **kw: Any) -> RefundCase:
    txn = txn or await record_txn(db, world, who)
    scope = await as_(db, world, who, "INTEGRATION")
    async with db.unit_of_work(scope) as uow:
        return await intake.submit(uow, intake.SubmitRefund(
            tenant_id=txn.tenant_id, transaction_id=txn.id, amount=Decimal(amount),
            reason=RefundReason.QUALITY_ISSUE, channel=RequestChannel.API, **kw))


async def approved_case(db: Database, world: World, amount: str = "10.00", who: str = "a",
                        method: RefundMethod | None = None, **kw: Any) -> RefundCase:
    if method == RefundMethod.BANK_TRANSFER:
        kw.setdefault("bank_destination", "6222020200112233")
    case = await submitted_case(db, world, amount, who, method=method, **kw)
    scope = await as_(db, world, who, "REFUND_AGENT")
    async with db.unit_of_work(scope) as uow:
        await refunds.start_review(uow, case.tenant_id, case.id)
        return await refunds.approve(uow, case.tenant_id, case.id)


async def fresh_case(db: Database, case: RefundCase) -> RefundCase:
    async with db.unit_of_work(runtime.system_scope("test"), readonly=True) as uow:
        found = await refunds.get_case(uow, case.tenant_id, case.id)
        uow._session.expunge(found)
    return found


async def fresh_txn(db: Database, case: RefundCase) -> Transaction:
    async with db.unit_of_work(runtime.system_scope("test"), readonly=True) as uow:
        txn = await transactions.get(uow, case.tenant_id, case.transaction_id)
        uow._session.expunge(txn)
    return txn


async def payouts_of(db: Database, case: RefundCase) -> list[Payout]:
    async with db.unit_of_work(runtime.system_scope("test"), readonly=True) as uow:
        rows = list((await unchecked(uow).execute(
            select(Payout).where(col(Payout.tenant_id) == case.tenant_id,
                                 col(Payout.case_id) == case.id)
            .order_by(col(Payout.attempt)))).scalars())
        for row in rows:
            uow._session.expunge(row)
    return rows


async def event_count(db: Database, type: str, aggregate_id: uuid.UUID | None = None) -> int:
    async with db.unit_of_work(runtime.system_scope("test"), readonly=True) as uow:
        stmt = select(func.count()).select_from(DomainEvent).where(col(DomainEvent.type) == type)
        if aggregate_id is not None:
            stmt = stmt.where(col(DomainEvent.aggregate_id) == aggregate_id)
        return int((await unchecked(uow).execute(stmt)).scalar_one())


async def unrelayed(db: Database, aggregate_id: uuid.UUID | None = None) -> int:
    async with db.unit_of_work(runtime.system_scope("test"), readonly=True) as uow:
        stmt = select(func.count()).select_from(DomainEvent).where(
            col(DomainEvent.relayed_at).is_(None))
        if aggregate_id is not None:
            stmt = stmt.where(col(DomainEvent.aggregate_id) == aggregate_id)
        return int((await unchecked(uow).execute(stmt)).scalar_one())


def subprocess_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a qrefund process pointed at the test database and Redis."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QREFUND_")}
    env.update(QREFUND_DATABASE_URL=settings.database_url,
               QREFUND_REDIS_URL=settings.redis_url or "", QREFUND_ENCRYPTION_KEY=TEST_KEY,
               QREFUND_ENVIRONMENT="test")
    env.update(extra)
    return env


def cli(settings: Settings, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """Run ``qrefund <args>`` the way an operator does."""
    return subprocess.run([sys.executable, "-m", "qrefund", *args],
                          env=subprocess_env(settings, **extra), capture_output=True, text=True,
                          timeout=120, check=False)


def database_was_ready() -> bool:
    """Job (forking worker test): had this work horse inherited an engine that was already
    connected once (the driver imported, the dialect initialised) before it started?"""
    db = runtime._default_db
    return db is not None and db.write_engine.dialect.server_version_info is not None
