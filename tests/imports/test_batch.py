"""transactions.batch.record_many: the same rules as one recordTransaction, in a fixed
number of statements per batch, whatever its size."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from qrefund.jobs import runtime
from qrefund.platform.clock import utcnow
from qrefund.platform.errors import DomainError
from qrefund.platform.outbox.models import DomainEvent
from qrefund.platform.transactions import service
from qrefund.platform.transactions.batch import MAX_BATCH, record_many
from qrefund.platform.transactions.models import PaymentChannel, TransactionStatus
from tests.foundation.test_sql_count import counting
from tests.refunds.helpers import scope_of
from tests.support.raw import unchecked


def cmd(n: int | str, amount: str = "10.00", status: TransactionStatus =
        TransactionStatus.SUCCEEDED, payer: str | None = None,
        channel: PaymentChannel = PaymentChannel.ALIPAY) -> service.RecordTransaction:
    return service.RecordTransaction(
        merchant_id=None, merchant_order_no=f"B-{n}", channel=channel,
        provider_reference=f"ref-{n}", amount=Decimal(amount), currency="CNY", status=status,
        paid_at=utcnow() - timedelta(hours=1), payer_account=payer)


def codes(outcomes: list[object]) -> list[str]:
    return [str(o.code) if isinstance(o, DomainError) else "ok" for o in outcomes]


async def _events(db, merchant) -> list[tuple[int, str]]:
    async with db.unit_of_work(runtime.system_scope("test"), readonly=True) as uow:
        rows = await unchecked(uow).execute(
            select(DomainEvent.seq, DomainEvent.type).where(
                DomainEvent.tenant_id == merchant, DomainEvent.aggregate_type == "transaction")
            .order_by(DomainEvent.seq))
        return [tuple(r) for r in rows]  # type: ignore[misc]


async def test_rules_of_one_row_hold_for_each_row_of_a_batch(db, world):
    scope = await scope_of(db, world, "a", "INTEGRATION")
    async with db.unit_of_work(scope) as uow:  # one recorded before, by the one-row path
        await service.record(uow, cmd(0, status=TransactionStatus.PENDING))
    batch = [cmd(1, payer="6222021234567890"), cmd(1), cmd(1, "11.00"), cmd(2, "-3"),
             cmd(0, status=TransactionStatus.SUCCEEDED), cmd(0, "1.00"),
             cmd(3, channel=PaymentChannel.WECHAT_PAY), cmd(3)]
    async with db.unit_of_work(scope) as uow:
        outcomes = await record_many(uow, None, batch)
    assert codes(outcomes) == ["ok", "ok", "ORDER_NO_CONFLICT", "INVALID_AMOUNT", "ok",
                               "ORDER_NO_CONFLICT", "ok", "ORDER_NO_CONFLICT"]
    assert outcomes[0] == outcomes[1]
    async with db.unit_of_work(scope, readonly=True) as uow:
        first = await service.get(uow, world.merchant_a, outcomes[0])  # type: ignore[arg-type]
        masked, encrypted = first.payer_masked, first.payer_account_enc
    assert masked and encrypted and "6222021234567890" not in masked + encrypted
    # Gapless sequence: recorded (0), recorded (1, 3), status change of 0 (replayed last).
    assert [t for _s, t in await _events(db, world.merchant_a)] == [
        "transaction.recorded", "transaction.recorded", "transaction.recorded",
        "transaction.status_changed"]
    seqs = [s for s, _t in await _events(db, world.merchant_a)]
    assert seqs == list(range(seqs[0], seqs[0] + 4))


async def test_the_statement_count_does_not_grow_with_the_batch(db, world):
    scope = await scope_of(db, world, "a", "INTEGRATION")
    counts = []
    for size, start in ((10, 0), (400, 1000)):
        with counting(db) as statements:
            async with db.unit_of_work(scope) as uow:
                outcomes = await record_many(uow, None, [cmd(start + i) for i in range(size)])
        assert codes(outcomes) == ["ok"] * size
        counts.append(len(statements))
    assert counts[0] == counts[1] and counts[1] <= 14, counts
    # Replays are one locked read for the batch, not one per row.
    with counting(db) as statements:
        async with db.unit_of_work(scope) as uow:
            again = await record_many(uow, None, [cmd(1000 + i) for i in range(400)])
    assert codes(again) == ["ok"] * 400 and len(statements) <= counts[1], statements


async def test_refused_for_the_whole_batch(db, world):
    viewer = await scope_of(db, world, "a", "VIEWER")
    async with db.unit_of_work(viewer) as uow:
        with pytest.raises(DomainError) as refused:
            await record_many(uow, None, [cmd(1)])
    assert str(refused.value.code) == "FORBIDDEN"
    agency = await scope_of(db, world, "agency", "ADMIN")
    async with db.unit_of_work(agency) as uow:
        with pytest.raises(DomainError) as foreign:
            await record_many(uow, world.merchant_c, [cmd(1)])
    assert str(foreign.value.code) == "NOT_FOUND"
    job = runtime.job_scope(world.merchant_a, "import")
    with pytest.raises(ValueError):
        async with db.unit_of_work(job) as uow:
            await record_many(uow, world.merchant_a, [cmd(i) for i in range(MAX_BATCH + 1)])
