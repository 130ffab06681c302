"""A consumer's receipt scope: apply for a refund on that one payment, nothing else."""

from __future__ import annotations

from decimal import Decimal

import pytest

from qrefund.platform.crypto import key_ring
from qrefund.platform.db import Database
from qrefund.platform.errors import Forbidden, NotFound
from qrefund.platform.refunds import intake, queries
from qrefund.platform.refunds import service as refunds
from qrefund.platform.transactions import service as transactions
from qrefund.platform.transactions.receipt import make_token
from qrefund.platform.vocabulary import RefundCaseStatus, RefundReason, RequestChannel
from qrefund.tenants.auth import receipt_scope
from tests.refunds.helpers import counts, record_txn, submit
from tests.support.world import World


def _apply(txn: object, amount: str = "10.00") -> intake.SubmitRefund:
    return intake.SubmitRefund(
        tenant_id=txn.tenant_id, transaction_id=txn.id,  # type: ignore[attr-defined]
        amount=Decimal(amount), reason=RefundReason.QUALITY_ISSUE,
        channel=RequestChannel.POS_QR, contact_email="li@example.com")


async def test_a_receipt_applies_for_a_refund_of_its_own_payment(db: Database, world: World
                                                                 ) -> None:
    txn = await record_txn(db, world)
    consumer = receipt_scope(make_token(key_ring(), txn.tenant_id, txn.id, 1))
    assert consumer is not None
    async with db.unit_of_work(consumer) as uow:
        case = await intake.submit(uow, _apply(txn))
    assert case.status == RefundCaseStatus.SUBMITTED and case.submitted_by == "receipt"


async def test_a_receipt_reaches_nothing_else(db: Database, world: World) -> None:
    mine, other = await record_txn(db, world), await record_txn(db, world)
    staff_case = await submit(db, world, other)
    consumer = receipt_scope(make_token(key_ring(), mine.tenant_id, mine.id, 1))
    assert consumer is not None
    before = await counts(db, world)
    # Another payment of the same merchant is *not found*, not forbidden
    with pytest.raises(NotFound):
        async with db.unit_of_work(consumer) as uow:
            await intake.submit(uow, _apply(other))
    # Lists and staff actions are refused outright
    async with db.unit_of_work(consumer, readonly=True) as uow:
        with pytest.raises(Forbidden):
            await transactions.list_page(uow, transactions.TransactionFilter(), first=5,
                                         after=None)
        with pytest.raises(Forbidden):
            await queries.list_page(uow, queries.CaseFilter(), first=5)
    with pytest.raises(Forbidden):
        async with db.unit_of_work(consumer) as uow:
            await refunds.start_review(uow, staff_case.tenant_id, staff_case.id)
    # A receipt may withdraw its own requests, so another payment's case is *not found*
    for own_only in (refunds.cancel, lambda u, t, c: refunds.provide_info(u, t, c, message="x")):
        with pytest.raises(NotFound):
            async with db.unit_of_work(consumer) as uow:
                await own_only(uow, staff_case.tenant_id, staff_case.id)
    assert await counts(db, world) == before
