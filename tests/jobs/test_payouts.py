"""Payouts end to end: approval -> outbox -> relay -> payout jobs on real workers."""

from __future__ import annotations

from qrefund.platform.payouts.models import PayoutStatus
from qrefund.platform.vocabulary import RefundCaseStatus
from qrefund.platform.vocabulary import RefundMethod as M
from tests.jobs.support import (
    JobHarness,
    approved_case,
    event_count,
    fresh_case,
    fresh_txn,
    payouts_of,
    unrelayed,
)
from tests.support.world import World


async def test_approval_pays_out_once_and_refunds_the_transaction(
    jobs: JobHarness, world: World
) -> None:
    case = await approved_case(jobs.db, world, "12.34")
    await jobs.drain()

    case = await fresh_case(jobs.db, case)
    assert case.status == RefundCaseStatus.REFUNDED
    [payout] = await payouts_of(jobs.db, case)
    assert payout.status == PayoutStatus.SUCCEEDED
    assert payout.attempt == 1 and payout.channel_calls == 1
    assert payout.provider_refund_id and payout.provider_refund_id.startswith("sbx_")
    txn = await fresh_txn(jobs.db, case)
    assert (txn.refunded_minor, txn.reserved_minor) == (1234, 0)
    ledger = jobs.sandbox().ledger()
    assert [(r["out_refund_no"], r["amount_minor"]) for r in ledger] == [
        (payout.out_refund_no, 1234)]
    assert await event_count(jobs.db, "refund_case.refunded", case.id) == 1
    assert await event_count(jobs.db, "payout.succeeded", payout.id) == 1
    assert await unrelayed(jobs.db) == 0


async def test_processing_is_polled_until_the_channel_succeeds(
    jobs: JobHarness, world: World
) -> None:
    case = await approved_case(jobs.db, world, "10.13")
    await jobs.drain()

    [payout] = await payouts_of(jobs.db, case)
    assert payout.status == PayoutStatus.SUCCEEDED
    assert payout.polls >= 2  # the sandbox answers PROCESSING until its 2nd status query
    assert await event_count(jobs.db, "payout.processing", payout.id) == 1
    assert (await fresh_case(jobs.db, case)).status == RefundCaseStatus.REFUNDED
    assert len(jobs.sandbox().ledger()) == 1


async def test_final_failure_moves_the_case_to_payout_failed_with_the_reason(
    jobs: JobHarness, world: World
) -> None:
    case = await approved_case(jobs.db, world, "10.66")
    await jobs.drain()

    case = await fresh_case(jobs.db, case)
    assert case.status == RefundCaseStatus.PAYOUT_FAILED
    assert case.payout_failure_reason and "ACCOUNT_CLOSED" in case.payout_failure_reason
    [payout] = await payouts_of(jobs.db, case)
    assert (payout.status, payout.failure_code) == (PayoutStatus.FAILED, "ACCOUNT_CLOSED")
    txn = await fresh_txn(jobs.db, case)
    assert (txn.refunded_minor, txn.reserved_minor) == (0, 1066)  # still held for a retry


async def test_slow_failure_after_polls(jobs: JobHarness, world: World) -> None:
    case = await approved_case(jobs.db, world, "10.14")
    await jobs.drain()
    [payout] = await payouts_of(jobs.db, case)
    assert (payout.status, payout.failure_code) == (PayoutStatus.FAILED, "BANK_RETURNED")
    assert (await fresh_case(jobs.db, case)).status == RefundCaseStatus.PAYOUT_FAILED


async def test_transient_errors_are_retried_with_the_same_key(
    jobs: JobHarness, world: World
) -> None:
    case = await approved_case(jobs.db, world, "10.77")
    await jobs.drain()

    [payout] = await payouts_of(jobs.db, case)
    assert payout.status == PayoutStatus.SUCCEEDED
    assert payout.channel_calls == 3  # two transient failures, then success
    assert jobs.sandbox().calls(payout.out_refund_no) == 3
    assert len(jobs.sandbox().ledger()) == 1
    assert (await fresh_case(jobs.db, case)).status == RefundCaseStatus.REFUNDED


async def test_bank_transfer_case_pays_to_the_destination(jobs: JobHarness, world: World) -> None:
    case = await approved_case(jobs.db, world, "10.66", method=M.BANK_TRANSFER)
    await jobs.drain()  # the amount's failure pattern applies to the original route only
    [payout] = await payouts_of(jobs.db, case)
    assert payout.status == PayoutStatus.SUCCEEDED
    assert payout.method == M.BANK_TRANSFER and payout.destination_masked == "****2233"
    assert payout.destination_enc and "6222020200112233" not in payout.destination_enc
