"""Building blocks for consumer tests: receipts, staff steps, row counts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from qrefund.platform.complaints import service as complaints
from qrefund.platform.complaints.vocabulary import ComplaintResolution
from qrefund.platform.consumer.access import receipt_unit
from qrefund.platform.crypto import key_ring
from qrefund.platform.db import Database, UnitOfWork
from qrefund.platform.refunds import service as refunds
from qrefund.platform.transactions import service as transactions
from qrefund.platform.transactions.models import Transaction
from qrefund.platform.transactions.receipt import make_token
from tests.complaints.helpers import counts as complaint_counts
from tests.refunds.helpers import scope_of
from tests.support.world import World

T = TypeVar("T")


def token_of(txn: Transaction) -> str:
    return make_token(key_ring(), txn.tenant_id, txn.id, txn.receipt_token_version)


async def as_consumer(db: Database, token: str, work: Callable[[UnitOfWork], Awaitable[T]]
                      ) -> T:
    async with receipt_unit(db, token) as uow:
        return await work(uow)


async def as_staff(db: Database, world: World, work: Callable[[UnitOfWork], Awaitable[T]],
                   who: str = "a", role: str = "ADMIN") -> T:
    async with db.unit_of_work(await scope_of(db, world, who, role)) as uow:
        return await work(uow)


async def counts(db: Database, world: World) -> dict[str, int]:
    """Rows that must not move when a consumer's request is refused."""
    return await complaint_counts(db, world)


async def revoke(db: Database, world: World, txn: Transaction, *, reissue: bool) -> Transaction:
    async def work(uow: UnitOfWork) -> Transaction:
        fresh = await transactions.revoke_receipt(uow, txn.tenant_id, txn.id, reissue=reissue)
        uow.expunge(fresh)
        return fresh
    return await as_staff(db, world, work, role="INTEGRATION")


async def ask_for_info(db: Database, world: World, case: Any, message: str) -> None:
    await as_staff(db, world, lambda u: refunds.start_review(u, world.merchant_a, case.id))
    await as_staff(db, world, lambda u: refunds.request_info(u, world.merchant_a, case.id,
                                                             message=message))


async def approve(db: Database, world: World, case: Any) -> None:
    await as_staff(db, world, lambda u: refunds.start_review(u, world.merchant_a, case.id))
    await as_staff(db, world, lambda u: refunds.approve(u, world.merchant_a, case.id))


async def resolve_ticket(db: Database, world: World, ticket: Any) -> None:
    await as_staff(db, world, lambda u: complaints.reply(
        u, world.merchant_a, ticket.id, message="internal: consumer is a regular, staff Wang",
        internal=True))
    await as_staff(db, world, lambda u: complaints.reply(
        u, world.merchant_a, ticket.id, message="We are sorry, we will check."))
    await as_staff(db, world, lambda u: complaints.resolve(
        u, world.merchant_a, ticket.id, resolution=ComplaintResolution.EXPLAINED,
        note="The refund was paid on Monday."))
