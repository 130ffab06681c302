"""The refund-case rules: velocity, refunds beyond the day's sales, repeated destinations,
one contact across an agency's merchants, quick refunds at a refund-heavy terminal."""

from __future__ import annotations

from datetime import timedelta

from qrefund.platform.clock import utcnow
from qrefund.platform.refunds.models import RefundCase
from qrefund.platform.risk import service
from qrefund.platform.risk.repository import RiskFlagRepository, SignalRepository
from qrefund.platform.vocabulary import RefundMethod
from tests.refunds.api import publish
from tests.refunds.helpers import scope_of
from tests.risk.helpers import case_row, flags, move_back, pay, refund


async def _review(db, world, flag, *, confirm=False, note="checked with the store"):
    scope = await scope_of(db, world, "a", "REFUND_AGENT")
    async with db.unit_of_work(scope) as uow:
        action = service.confirm if confirm else service.dismiss
        return await action(uow, flag.tenant_id, flag.id, note)


async def _history(db, world, per_day: list[int], terminal: str = "T1") -> None:
    """Refund cases at ``terminal`` on each of the 28 days before the last 24 hours."""
    txns = [await pay(db, world, amount="1000.00", terminal=terminal, store=None)
            for _ in range((sum(per_day) + 49) // 50)]
    made = 0
    for day, count in enumerate(per_day):
        ids = []
        for _ in range(count):
            ids.append((await refund(db, world, txns[made // 50], "1.00")).id)
            made += 1
        await move_back(db, world, RefundCase, ids, timedelta(days=day + 1, hours=1))


async def test_velocity_baseline_is_median_and_mad_of_daily_counts(db, world):
    # Given 14 days with one request at T1 and 14 days with three
    await _history(db, world, [1, 3] * 14)
    scope = await scope_of(db, world, "a")
    async with db.unit_of_work(scope, readonly=True) as uow:
        base = await SignalRepository(uow).baseline(world.merchant_a, "terminal", "T1", utcnow())
    # Then the median is 2 and every day deviates by 1 (MAD 1); nothing today
    assert (base.today, base.median, base.mad) == (0, 2.0, 1.0)


async def test_refund_velocity_above_the_terminals_norm(db, world):
    # Given T1's norm: median 2, MAD 1, so k=3 puts the limit at 5 a day
    await _history(db, world, [1, 3] * 14)
    txn = await pay(db, world, amount="500.00", store=None)
    # When five requests come in a day: at the limit, not above it
    cases = [await refund(db, world, txn, "1.00") for _ in range(5)]
    assert await flags(db, world, "REFUND_VELOCITY") == []
    # Then the sixth is flagged, with the day's cases as evidence
    sixth = await refund(db, world, await pay(db, world, store=None), "1.00")
    [flag] = await flags(db, world, "REFUND_VELOCITY")
    assert flag.subject_id == sixth.id and flag.refund_case_id == sixth.id
    assert flag.evidence["dimension"] == "terminal" and flag.evidence["observed"] == 6
    assert (flag.evidence["median"], flag.evidence["mad"]) == (2.0, 1.0)
    assert set(flag.evidence["refundCases"]) == {str(c.id) for c in [*cases, sixth]}
    # And a flagged case is held: ANOMALY on the case
    assert "ANOMALY" in (await case_row(db, world, sixth)).risk_flags


async def test_refund_velocity_quiet_terminal_below_the_minimum(db, world):
    txn = await pay(db, world, amount="500.00")
    for _ in range(4):  # a quiet terminal (median 0) with four requests: not unusual yet
        await refund(db, world, txn, "1.00")
    assert await flags(db, world, "REFUND_VELOCITY") == []


async def test_refund_velocity_dismissal_raises_k(db, world):
    txn = await pay(db, world, amount="500.00", store=None)
    for _ in range(5):
        await refund(db, world, txn, "1.00")
    [flag] = await flags(db, world, "REFUND_VELOCITY")
    await _review(db, world, flag)
    from qrefund.platform.risk import engine
    from qrefund.tenants.service import get_tenant

    scope = await scope_of(db, world, "a")
    async with db.unit_of_work(scope, readonly=True) as uow:
        tuned = (await engine.rule_settings(uow, await get_tenant(uow, world.merchant_a),
                                            utcnow()))["REFUND_VELOCITY"]
    assert (tuned.base_threshold, tuned.threshold, tuned.dismissed) == (3.0, 3.75, 1)


async def test_feedback_and_the_payments_open_flag_are_read_together(db, world):
    # Given two mismatched payments (each flagged), one flag dismissed, and a clean payment
    kept, reviewed = [await pay(db, world, amount="12.50", expected="10.00", terminal=None,
                                store=None) for _ in range(2)]
    clean = await pay(db, world, amount="10.00", terminal=None, store=None)
    [dismissed] = [f for f in await flags(db, world) if f.transaction_id == reviewed.id]
    await _review(db, world, dismissed)
    # Then the one read a case's screen makes answers as the feedback read and an
    # open-flag look-up would: only a payment's OPEN flag of its own counts
    scope = await scope_of(db, world, "a")
    since = utcnow() - timedelta(days=90)
    async with db.unit_of_work(scope, readonly=True) as uow:
        repo = RiskFlagRepository(uow)
        feedback = await repo.feedback(world.merchant_a, since)
        assert feedback == {("AMOUNT_MISMATCH", "DISMISSED"): 1}
        for txn, open_flag in ((kept, True), (reviewed, False), (clean, False)):
            assert await repo.feedback_and_open_on_payment(world.merchant_a, since, txn.id) == (
                feedback, open_flag)
    # And a case is held for the open flag only
    assert "ANOMALY" in (await refund(db, world, kept, "1.00")).risk_flags
    assert "ANOMALY" not in (await refund(db, world, reviewed, "1.00")).risk_flags


async def test_refunds_exceeding_the_days_net_sales(db, world):
    # Given T9 sold 100.00 today, and a 150.00 payment of two days ago
    await pay(db, world, amount="100.00", terminal="T9", store=None,
              paid_at=utcnow() - timedelta(minutes=1))
    old = await pay(db, world, amount="150.00", terminal="T9", store=None,
                    paid_at=utcnow() - timedelta(days=2))
    # When 120.00 of the old payment is asked back today
    case = await refund(db, world, old, "120.00")
    # Then the day's refunds exceed its net sales
    [flag] = await flags(db, world, "REFUNDS_EXCEED_SALES")
    assert flag.subject_id == case.id
    assert (flag.evidence["observed"], flag.evidence["netSalesMinor"]) == (12000, 10000)


async def test_refunds_within_the_days_sales_are_not_flagged(db, world):
    today = await pay(db, world, amount="100.00", terminal="T9", store=None,
                      paid_at=utcnow() - timedelta(minutes=1))
    await refund(db, world, today, "50.00")
    assert await flags(db, world, "REFUNDS_EXCEED_SALES") == []


async def test_refunds_exceeding_sales_dismissed_then_confirmed_elsewhere(db, world):
    old = await pay(db, world, amount="150.00", terminal="T9", store=None,
                    paid_at=utcnow() - timedelta(days=2))
    await refund(db, world, old, "20.00")
    [flag] = await flags(db, world, "REFUNDS_EXCEED_SALES")
    dismissed = await _review(db, world, flag)
    assert dismissed.status == "DISMISSED"
    # A confirmation cancels the dismissal out: the threshold is back to its base
    other = await pay(db, world, amount="150.00", terminal="T8", store=None,
                      paid_at=utcnow() - timedelta(days=2))
    await refund(db, world, other, "20.00")
    [second] = [f for f in await flags(db, world, "REFUNDS_EXCEED_SALES") if f.id != flag.id]
    assert (await _review(db, world, second, confirm=True)).status == "CONFIRMED"


async def test_many_refunds_to_one_contact(db, world):
    # Given one consumer phone typed three ways
    phones = ["138 0000 1111", "138-0000-1111", "13800001111"]
    cases = [await refund(db, world, await pay(db, world, terminal=None, store=None), "5.00",
                          contact_phone=p) for p in phones]
    [flag] = await flags(db, world, "REPEATED_DESTINATION")
    assert flag.subject_id == cases[2].id and flag.evidence["by"] == "contactPhone"
    assert flag.evidence["refundCases"] == [str(c.id) for c in cases]
    assert "13800001111" not in str(flag.evidence)


async def test_many_refunds_to_one_bank_account(db, world):
    accounts = ["6222 0000 1234 5678", "6222-0000-1234-5678", "6222000012345678"]
    for account in accounts:
        await refund(db, world, await pay(db, world, terminal=None, store=None), "5.00",
                     method=RefundMethod.BANK_TRANSFER, bank_destination=account)
    [flag] = await flags(db, world, "REPEATED_DESTINATION")
    assert flag.evidence["by"] == "destinationAccount"


async def test_two_refunds_to_one_contact_or_three_contacts_are_not_flagged(db, world):
    for phone in ["13800001111", "13800001111", "13900002222", "13700003333"]:
        await refund(db, world, await pay(db, world, terminal=None, store=None), "5.00",
                     contact_phone=phone)
    assert await flags(db, world, "REPEATED_DESTINATION") == []


async def test_repeated_destination_dismissal(db, world):
    for _ in range(3):
        await refund(db, world, await pay(db, world, terminal=None, store=None), "5.00",
                     contact_email="li.wei@example.com")
    [flag] = await flags(db, world, "REPEATED_DESTINATION")
    await _review(db, world, flag, note="a regular customer")
    # A fourth request is a new subject, judged with k loosened to 3.75: four >= 3.75
    await refund(db, world, await pay(db, world, terminal=None, store=None), "5.00",
                 contact_email="LI.WEI@example.com")
    found = await flags(db, world, "REPEATED_DESTINATION")
    assert [f.status for f in found] == ["DISMISSED", "OPEN"]


async def test_one_contact_across_an_agencys_merchants(client, db, world, job_runtime):
    # Given the agency flags a contact seen at two of its merchants
    await publish(client, world.key("agency"), riskRules=[
        {"rule": "CROSS_MERCHANT_CONTACT", "threshold": "2"}])
    at_a = await refund(db, world, await pay(db, world, terminal=None, store=None), "5.00",
                        contact_email="claims@example.com")
    await refund(db, world, await pay(db, world, "b", terminal=None, store=None), "5.00",
                 who="b", contact_email="claims@example.com")
    # Then intake (a merchant's scope) does not raise it; the periodic scan does
    assert await flags(db, world, "CROSS_MERCHANT_CONTACT") == []
    from qrefund.jobs.risk import risk_scan_merchant

    await risk_scan_merchant(str(world.merchant_a))
    [flag] = await flags(db, world, "CROSS_MERCHANT_CONTACT")
    assert (flag.tenant_id, flag.subject_id) == (world.merchant_a, at_a.id)
    assert flag.evidence["observed"] == 2 and flag.evidence["refundCases"] == [str(at_a.id)]
    # The scan holds the case and tells its timeline
    assert "ANOMALY" in (await case_row(db, world, at_a)).risk_flags
    # Scanning again changes nothing
    assert (await risk_scan_merchant(str(world.merchant_a)))["flagged"] == 0
    await _review(db, world, flag, note="two shops, one family")
    assert (await risk_scan_merchant(str(world.merchant_a)))["flagged"] == 0
    assert [f.status for f in await flags(db, world, "CROSS_MERCHANT_CONTACT")] == ["DISMISSED"]


async def test_contact_at_a_standalone_merchant_is_not_an_agency_pattern(db, world, job_runtime):
    await refund(db, world, await pay(db, world, "c", currency="JPY", amount="1000",
                                      terminal=None, store=None), "500", who="c",
                 contact_email="claims@example.com")
    await refund(db, world, await pay(db, world, terminal=None, store=None), "5.00",
                 contact_email="claims@example.com")
    from qrefund.jobs.risk import risk_scan_merchant

    await risk_scan_merchant(str(world.merchant_a))
    assert await flags(db, world, "CROSS_MERCHANT_CONTACT") == []


async def _refund_heavy_t1(db, world) -> None:
    """T1: 4 payments, 2 of them refunded; T2: 16 payments, none refunded."""
    t1 = [await pay(db, world, terminal="T1", store=None,
                    paid_at=utcnow() - timedelta(days=3)) for _ in range(4)]
    for _ in range(16):
        await pay(db, world, terminal="T2", store=None, paid_at=utcnow() - timedelta(days=3))
    for txn in t1[:2]:
        await refund(db, world, txn, "5.00")


async def test_quick_refund_at_a_refund_heavy_terminal(db, world):
    await _refund_heavy_t1(db, world)
    # When a payment at T1 is asked back minutes later
    txn = await pay(db, world, terminal="T1", store=None, paid_at=utcnow() - timedelta(minutes=3))
    case = await refund(db, world, txn, "5.00")
    # Then: T1 refunds 3 of 5 payments, the merchant 3 of 21
    [flag] = await flags(db, world, "QUICK_REFUND")
    assert flag.subject_id == case.id
    assert flag.evidence["terminalShare"] == 0.6 and flag.evidence["minutesAfterPayment"] >= 2


async def test_quick_refund_not_flagged_later_or_at_a_normal_terminal(db, world):
    await _refund_heavy_t1(db, world)
    later = await pay(db, world, terminal="T1", store=None, paid_at=utcnow() - timedelta(hours=2))
    await refund(db, world, later, "5.00")  # hours after paying
    quick = await pay(db, world, terminal="T2", store=None)
    await refund(db, world, quick, "5.00")  # at a terminal that rarely refunds
    assert await flags(db, world, "QUICK_REFUND") == []


async def test_quick_refund_dismissal(db, world):
    await _refund_heavy_t1(db, world)
    case = await refund(db, world, await pay(db, world, terminal="T1", store=None), "5.00")
    [flag] = await flags(db, world, "QUICK_REFUND")
    reviewed = await _review(db, world, flag, note="the cashier's test payment")
    assert (reviewed.status, reviewed.refund_case_id) == ("DISMISSED", case.id)

