"""Never over-refund: many submissions and approvals race on one transaction.

Each call is its own unit of work on its own pooled connection (real concurrency on
PostgreSQL, where the transaction row lock serialises the money checks); afterwards
the totals are recomputed from the cases and compared with the transaction's
counters.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from qrefund.platform.db import Database
from qrefund.platform.errors import DomainError
from qrefund.platform.refunds import intake, service
from qrefund.platform.refunds.models import RefundCase
from qrefund.platform.scope import TenantScope
from qrefund.platform.transactions.models import Transaction
from qrefund.platform.vocabulary import RefundReason, RequestChannel
from tests.refunds.api import publish
from tests.refunds.helpers import record_txn, reload_txn, scope_of
from tests.support.raw import unchecked

pytestmark = pytest.mark.postgres_only


async def _submit(db: Database, scope: TenantScope, txn: Transaction, amount: str) -> str:
    try:
        async with db.unit_of_work(scope) as uow:
            case = await intake.submit(uow, intake.SubmitRefund(
                tenant_id=txn.tenant_id, transaction_id=txn.id, amount=Decimal(amount),
                reason=RefundReason.QUALITY_ISSUE, channel=RequestChannel.API))
            return f"ok:{case.id}"
    except DomainError as error:
        return error.code


async def _review(db: Database, scope: TenantScope, case: RefundCase) -> None:
    async with db.unit_of_work(scope) as uow:
        await service.start_review(uow, case.tenant_id, case.id)


async def _decide(db: Database, scope: TenantScope, case: RefundCase, amount: str | None) -> str:
    try:
        async with db.unit_of_work(scope) as uow:
            if amount is None:
                await service.cancel(uow, case.tenant_id, case.id, reason="race")
            else:
                await service.approve(uow, case.tenant_id, case.id, amount=Decimal(amount))
            return "ok"
    except DomainError as error:
        return error.code


async def _cases(db: Database, scope: TenantScope, txn: Transaction) -> list[RefundCase]:
    async with db.unit_of_work(scope) as uow:
        rows = list((await unchecked(uow).execute(select(RefundCase).where(
            RefundCase.transaction_id == txn.id))).scalars())
        for row in rows:
            uow._session.expunge(row)
    return rows


async def _check_invariants(db, world, txn, scope, cap):
    fresh = await reload_txn(db, world, txn)
    cases = await _cases(db, scope, txn)
    live = [c for c in cases if c.is_live]
    assert fresh.reserved_minor == sum(c.held_minor for c in cases)
    assert fresh.refunded_minor + fresh.reserved_minor <= fresh.amount_minor
    assert fresh.refund_count == len(live) <= cap
    return fresh, cases


async def test_racing_submissions_and_approvals_never_over_refund(client, db, world):
    await publish(client, world.key("a"), maxRefundsPerTransaction=25)
    txn = await record_txn(db, world, amount="100.00")
    integration = await scope_of(db, world, "a", "INTEGRATION")
    agent = await scope_of(db, world, "a", "REFUND_AGENT")

    # 30 requests of 7.00 for 100.00: exactly 14 fit.
    results = await asyncio.gather(*[_submit(db, integration, txn, "7.00") for _ in range(30)])
    outcome = Counter(r if not r.startswith("ok:") else "ok" for r in results)
    assert outcome == {"ok": 14, "AMOUNT_EXCEEDS_REFUNDABLE": 16}
    fresh, cases = await _check_invariants(db, world, txn, agent, 25)
    assert fresh.reserved_minor == 9800

    # Now decide all 14 at once (some approved in full, some in part, some cancelled)
    # while 20 more requests of 3.00 race to take whatever the decisions release.
    await asyncio.gather(*[_review(db, agent, c) for c in cases])
    decisions = [_decide(db, agent, c, None if i % 5 == 0 else "4.00" if i % 2 else "7.00")
                 for i, c in enumerate(cases)]
    more = [_submit(db, integration, txn, "3.00") for _ in range(20)]
    results = await asyncio.gather(*decisions, *more)
    assert all(r == "ok" for r in results[:len(cases)]), results
    assert set(results[len(cases):]) <= {"AMOUNT_EXCEEDS_REFUNDABLE"} | {
        r for r in results if r.startswith("ok:")}
    fresh, cases = await _check_invariants(db, world, txn, agent, 25)
    approved = sum(c.approved_minor or 0 for c in cases if c.status == "APPROVED")
    pending = sum(c.requested_minor for c in cases if c.status == "SUBMITTED")
    assert approved + pending == fresh.reserved_minor <= 10000


async def test_racing_submissions_respect_the_cap(client, db, world):
    await publish(client, world.key("a"), maxRefundsPerTransaction=5)
    txn = await record_txn(db, world, amount="100.00")
    integration = await scope_of(db, world, "a", "INTEGRATION")
    results = await asyncio.gather(*[_submit(db, integration, txn, "1.00") for _ in range(25)])
    outcome = Counter(r if not r.startswith("ok:") else "ok" for r in results)
    assert outcome == {"ok": 5, "REFUND_LIMIT_REACHED": 20}
    fresh, _ = await _check_invariants(db, world, txn, integration, 5)
    assert (fresh.refund_count, fresh.reserved_minor) == (5, 500)


async def test_racing_submissions_draw_gapless_case_numbers(client, db, world):
    """Each case's INSERT draws the merchant's next case number (sql_parts.counted_insert):
    twelve submissions at once on six payments give twelve cases numbered 1 to 12, each
    once (two more, refused, draw none); the number after 999999 has seven digits."""
    txns = [await record_txn(db, world, amount="10.00") for _ in range(6)]
    integration = await scope_of(db, world, "a", "INTEGRATION")
    results = await asyncio.gather(*[_submit(db, integration, txn, "6.00" if i < 6 else "4.00")
                                     for i, txn in enumerate(txns * 2)])
    results += await asyncio.gather(*[_submit(db, integration, txn, "4.00") for txn in txns[:2]])
    assert Counter(r if not r.startswith("ok:") else "ok" for r in results) == {
        "ok": 12, "AMOUNT_EXCEEDS_REFUNDABLE": 2}
    cases = [c for txn in txns for c in await _cases(db, integration, txn)]
    numbers = sorted(int(c.case_number.rsplit("-", 1)[1]) for c in cases)
    assert numbers == list(range(1, 13))
    assert len({c.case_number[:9] for c in cases}) == 1  # RF<day>- of the merchant's day
    async with db.unit_of_work(integration) as uow:
        await unchecked(uow).execute(text(
            "UPDATE tenant_sequences SET value = 999999 WHERE tenant_id = :t "
            "AND name = 'refund_case'"), {"t": world.merchant_a})
    late = await record_txn(db, world, amount="10.00")
    assert (await _submit(db, integration, late, "1.00")).startswith("ok:")
    (case,) = await _cases(db, integration, late)
    assert case.case_number.endswith("-1000000")
