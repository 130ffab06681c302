"""submitRefundRequest: eligibility at intake. Refusals first, each with its stable code
and nothing written; then what an accepted request stamps on the case."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from qrefund.platform.clock import utcnow
from qrefund.platform.crypto import key_ring
from qrefund.platform.refunds.models import (
    CONTACT_EMAIL_PURPOSE,
    CONTACT_PHONE_PURPOSE,
    RefundCase,
    RefundEvidence,
)
from qrefund.platform.transactions.models import TransactionStatus
from tests.refunds.api import error_code, publish, submit, submitted_case
from tests.refunds.helpers import counts, record_txn, reload_txn, scope_of
from tests.support.raw import unchecked

SHA = "a" * 64


async def assert_refused(client, db, world, txn, code, amount="10.00", key=None, **extra):
    before = await counts(db, world)
    fresh = await reload_txn(db, world, txn)
    payload = await submit(client, key or world.key("a", "INTEGRATION"), txn, amount, **extra)
    assert error_code(payload) == code, payload
    assert await counts(db, world) == before
    after = await reload_txn(db, world, txn)
    assert (after.reserved_minor, after.refund_count) == (fresh.reserved_minor, fresh.refund_count)
    return payload


async def test_another_merchants_transaction_is_not_found(client, db, world):
    txn = await record_txn(db, world, "b")
    await assert_refused(client, db, world, txn, "NOT_FOUND")


async def test_other_agency_cannot_submit_for_our_merchant(client, db, world):
    txn = await record_txn(db, world, "a")
    await assert_refused(client, db, world, txn, "NOT_FOUND", key=world.key("other_agency"))


@pytest.mark.parametrize("role", ["VIEWER", "SUPPORT"])
async def test_roles_that_cannot_submit(client, db, world, role):
    txn = await record_txn(db, world)
    await assert_refused(client, db, world, txn, "FORBIDDEN", key=world.key("a", role))


async def test_failed_payment_is_refused(client, db, world):
    txn = await record_txn(db, world, status=TransactionStatus.FAILED)
    await assert_refused(client, db, world, txn, "TRANSACTION_NOT_REFUNDABLE")


async def test_failed_payment_that_charged_is_accepted(client, db, world):
    txn = await record_txn(db, world, status=TransactionStatus.FAILED)
    case = await submitted_case(client, world.key("a", "INTEGRATION"), txn, "100.00",
                                reason="PAYMENT_FAILED_BUT_CHARGED")
    assert case["status"] == "SUBMITTED"


async def test_pending_payment_is_refused(client, db, world):
    txn = await record_txn(db, world, status=TransactionStatus.PENDING)
    await assert_refused(client, db, world, txn, "TRANSACTION_NOT_REFUNDABLE",
                         reason="PAYMENT_FAILED_BUT_CHARGED")


async def test_outside_the_window(client, db, world):
    await publish(client, world.key("a"), refundWindowDays=30)
    txn = await record_txn(db, world, paid_at=utcnow() - timedelta(days=31))
    await assert_refused(client, db, world, txn, "REFUND_WINDOW_CLOSED")


async def test_over_the_refundable_amount(client, db, world):
    txn = await record_txn(db, world, amount="100.00")
    await assert_refused(client, db, world, txn, "AMOUNT_EXCEEDS_REFUNDABLE", "100.01")


async def test_pending_requests_count_against_the_refundable_amount(client, db, world):
    txn = await record_txn(db, world, amount="100.00")
    await submitted_case(client, world.key("a", "INTEGRATION"), txn, "60.00")
    await assert_refused(client, db, world, txn, "AMOUNT_EXCEEDS_REFUNDABLE", "40.01")


@pytest.mark.parametrize(("who", "amount"), [("a", "10.001"), ("c", "10.5")])
async def test_wrong_currency_precision(client, db, world, who, amount):
    currency = "JPY" if who == "c" else "CNY"
    txn = await record_txn(db, world, who, amount="1000", currency=currency)
    await assert_refused(client, db, world, txn, "INVALID_AMOUNT", amount,
                         key=world.key(who, "INTEGRATION"))


@pytest.mark.parametrize("amount", ["0", "0.00", "-5.00"])
async def test_zero_or_negative_amount(client, db, world, amount):
    txn = await record_txn(db, world)
    await assert_refused(client, db, world, txn, "INVALID_AMOUNT", amount)


async def test_currency_other_than_the_payments(client, db, world):
    txn = await record_txn(db, world)
    await assert_refused(client, db, world, txn, "CURRENCY_MISMATCH", currency="USD")


async def test_partial_when_not_allowed(client, db, world):
    await publish(client, world.key("a"), allowPartial=False)
    txn = await record_txn(db, world, amount="100.00")
    await assert_refused(client, db, world, txn, "PARTIAL_REFUND_NOT_ALLOWED", "50.00")
    case = await submitted_case(client, world.key("a", "INTEGRATION"), txn, "100.00")
    assert case["policyVersion"] == 1


async def test_over_the_per_transaction_cap(client, db, world):
    await publish(client, world.key("a"), maxRefundsPerTransaction=2)
    txn = await record_txn(db, world)
    for _ in range(2):
        await submitted_case(client, world.key("a", "INTEGRATION"), txn, "1.00")
    await assert_refused(client, db, world, txn, "REFUND_LIMIT_REACHED", "1.00")


async def test_disallowed_method(client, db, world):
    await publish(client, world.key("a"), allowedMethods=["ORIGINAL_ROUTE"])
    txn = await record_txn(db, world)
    await assert_refused(client, db, world, txn, "METHOD_NOT_ALLOWED", method="BANK_TRANSFER",
                         bankDestination="6222 0000 1111 2222")


async def test_disallowed_reason(client, db, world):
    await publish(client, world.key("a"), allowedReasons=["DUPLICATE_CHARGE"])
    txn = await record_txn(db, world)
    await assert_refused(client, db, world, txn, "REASON_NOT_ALLOWED", reason="QUALITY_ISSUE")


async def test_evidence_required(client, db, world):
    await publish(client, world.key("a"), evidenceRequiredReasons=["QUALITY_ISSUE"])
    txn = await record_txn(db, world)
    await assert_refused(client, db, world, txn, "EVIDENCE_REQUIRED")
    evidence = [{"type": "PHOTO", "filename": "broken.jpg", "size": 2048, "sha256": SHA}]
    case = await submitted_case(client, world.key("a", "INTEGRATION"), txn, evidence=evidence)
    async with db.unit_of_work(await scope_of(db, world, "a")) as uow:
        rows = (await unchecked(uow).execute(select(RefundEvidence))).scalars().all()
        assert [(r.filename, r.size_bytes, r.sha256) for r in rows] == [("broken.jpg", 2048, SHA)]
    assert case["status"] == "SUBMITTED"


async def test_bank_transfer_needs_a_destination(client, db, world):
    txn = await record_txn(db, world)
    await assert_refused(client, db, world, txn, "BANK_DESTINATION_REQUIRED",
                         method="BANK_TRANSFER")


@pytest.mark.parametrize(("extra", "code"), [
    ({"description": "x" * 10_000}, "TOO_LONG"),
    ({"contactEmail": "not-an-email"}, "INVALID_FORMAT"),
    ({"contactPhone": "call me maybe"}, "INVALID_FORMAT"),
    ({"evidence": [{"type": "PHOTO", "filename": "a.jpg", "size": 1, "sha256": "zz"}]},
     "INVALID_FORMAT"),
    ({"evidence": [{"type": "PHOTO", "filename": "../etc/passwd", "size": 1,
                    "sha256": SHA}]}, "INVALID_FORMAT"),
    ({"evidence": [{"type": "PHOTO", "filename": "a.jpg", "size": 60 * 1024 * 1024,
                    "sha256": SHA}]}, "OUT_OF_RANGE"),
    ({"evidence": [{"type": "PHOTO", "filename": f"{i}.jpg", "size": 1, "sha256": SHA}
                   for i in range(11)]}, "TOO_MANY"),
    ({"idempotencyKey": "has spaces in it"}, "INVALID_FORMAT"),
])
async def test_oversized_or_malformed_input(client, db, world, extra, code):
    txn = await record_txn(db, world)
    await assert_refused(client, db, world, txn, code, **extra)


async def test_accepted_request_stamps_the_case(client, db, world):
    await publish(client, world.key("a"), reviewSlaHours=24, completionSlaHours=48)
    txn = await record_txn(db, world, amount="88.00")
    before = utcnow()
    case = await submitted_case(client, world.key("a", "INTEGRATION"), txn, "20.50",
                                channel="POS_QR", contactPhone="+86 138 0013 8000",
                                contactEmail="li.wei@example.com", description="cracked screen")
    assert case["status"] == "SUBMITTED" and case["policyVersion"] == 1
    assert case["requestedAmount"] == {"amount": "20.50", "currency": "CNY"}
    assert case["caseNumber"].startswith("RF") and case["caseNumber"].endswith("-000001")
    fresh = await reload_txn(db, world, txn)
    assert (fresh.reserved_minor, fresh.refund_count, fresh.refundable_minor) == (2050, 1, 6750)
    async with db.unit_of_work(await scope_of(db, world, "a")) as uow:
        row = (await unchecked(uow).execute(select(RefundCase))).scalar_one()
        assert before + timedelta(hours=24) <= row.review_due_at <= utcnow() + timedelta(hours=24)
        assert row.completion_due_at - row.review_due_at == timedelta(hours=24)
        # Personal data is encrypted at rest and decrypts with its own purpose.
        assert "138" not in (row.contact_phone_enc or "")
        phone = key_ring().decrypt(row.contact_phone_enc or "", CONTACT_PHONE_PURPOSE)
        assert phone.endswith("8000")
        assert key_ring().decrypt(row.contact_email_enc or "", CONTACT_EMAIL_PURPOSE) == \
            "li.wei@example.com"


async def test_case_numbers_count_per_merchant(client, db, world):
    txn_a, txn_b = await record_txn(db, world, "a"), await record_txn(db, world, "b")
    first = await submitted_case(client, world.key("a", "INTEGRATION"), txn_a)
    second = await submitted_case(client, world.key("a", "INTEGRATION"), txn_a)
    other = await submitted_case(client, world.key("b", "INTEGRATION"), txn_b)
    assert [c["caseNumber"][-6:] for c in (first, second, other)] == ["000001", "000002", "000001"]


async def test_agency_submits_for_its_merchant(client, db, world):
    txn = await record_txn(db, world, "b")
    case = await submitted_case(client, world.key("agency"), txn)
    assert case["status"] == "SUBMITTED"


async def test_auto_approval_when_the_rules_hold(client, db, world):
    await publish(client, world.key("a"), autoApproveMaxAmount="50.00",
                  autoApproveReasons=["DUPLICATE_CHARGE"])
    txn = await record_txn(db, world, amount="200.00")
    key = world.key("a", "INTEGRATION")
    held = await submitted_case(client, key, txn, "50.01", reason="DUPLICATE_CHARGE")
    assert held["status"] == "SUBMITTED"  # over the amount
    other = await submitted_case(client, key, txn, "5.00", reason="QUALITY_ISSUE")
    assert other["status"] == "SUBMITTED"  # reason not listed
    # The transaction now has live cases: REPEAT_REQUEST is a risk flag, so no auto-approval.
    repeat = await submitted_case(client, key, txn, "5.00", reason="DUPLICATE_CHARGE")
    assert repeat["status"] == "SUBMITTED" and repeat["riskFlags"] == ["REPEAT_REQUEST"]
    fresh_txn = await record_txn(db, world, amount="200.00")
    auto = await submitted_case(client, key, fresh_txn, "50.00", reason="DUPLICATE_CHARGE")
    assert auto["status"] == "APPROVED" and auto["approvedAmount"]["amount"] == "50.00"
    assert auto["assignee"] == "system:auto_approve"
    flagged_txn = await record_txn(db, world, amount="200.00")
    flagged = await submitted_case(client, key, flagged_txn, "5.00", reason="DUPLICATE_CHARGE",
                                   flaggedAsRisk=True)
    assert flagged["status"] == "SUBMITTED" and flagged["riskFlags"] == ["FLAGGED_BY_SUBMITTER"]
