"""The consumer service: a receipt holder's view and actions, on that one payment only."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from qrefund.platform.clock import utcnow
from qrefund.platform.complaints.vocabulary import ComplaintCategory
from qrefund.platform.consumer import service as consumer
from qrefund.platform.consumer.errors import ConsumerError
from qrefund.platform.db import Database, UnitOfWork
from qrefund.platform.errors import DomainError, InvalidState, NotFound
from qrefund.platform.refunds.errors import RefundError
from qrefund.platform.vocabulary import RefundMethod, RefundReason
from tests.consumer.helpers import (
    approve,
    as_consumer,
    ask_for_info,
    counts,
    resolve_ticket,
    revoke,
    token_of,
)
from tests.refunds.helpers import record_txn, submit
from tests.support.world import World


def _apply(amount: str = "30.00", **kw: object) -> consumer.ApplyForRefund:
    kw.setdefault("reason", RefundReason.QUALITY_ISSUE)
    return consumer.ApplyForRefund(amount=Decimal(amount), **kw)  # type: ignore[arg-type]


async def _refused(db: Database, world: World, token: str, work: object,
                   code: str) -> DomainError:
    """Run ``work`` as the receipt holder; it must fail with ``code`` and write nothing."""
    before = await counts(db, world)
    with pytest.raises(DomainError) as raised:
        await as_consumer(db, token, work)  # type: ignore[arg-type]
    assert raised.value.code == code, raised.value
    assert await counts(db, world) == before
    return raised.value


async def test_the_receipt_shows_payment_policy_and_nothing_of_the_merchant(
        db: Database, world: World) -> None:
    txn = await record_txn(db, world, amount="100.00")
    token = token_of(txn)
    view = await as_consumer(db, token, lambda u: consumer.receipt(u, token))
    assert view.merchant_name == "Merchant A" and view.locale == "zh-CN"
    assert view.transaction.merchant_order_no == txn.merchant_order_no
    assert str(view.transaction.refundable) == "100.00 CNY"
    assert view.policy.allow_partial and "BANK_TRANSFER" in view.policy.allowed_methods
    assert view.policy.conditions and "365" in view.policy.conditions
    english = await as_consumer(db, token, lambda u: consumer.receipt(u, token, locale="en-GB"))
    assert english.locale == "en" and english.policy.conditions.startswith("Refunds")
    assert view.refund_cases == () and view.complaints == ()
    assert view.expires_at == txn.paid_at + timedelta(days=365)


async def test_apply_partial_then_follow_the_case_in_plain_words(db: Database, world: World
                                                                ) -> None:
    txn = await record_txn(db, world, amount="100.00")
    token = token_of(txn)
    case = await as_consumer(db, token, lambda u: consumer.apply_for_refund(u, token, _apply(
        "30.00", method=RefundMethod.BANK_TRANSFER, bank_destination="6222 0000 1111 2222",
        contact_phone="+86 138 0013 8000", contact_email="li@example.com",
        description="cup was cracked")))
    assert case.status == "SUBMITTED" and str(case.requested) == "30.00 CNY"
    assert case.method == "BANK_TRANSFER" and case.can_cancel
    assert case.contact_email != "li@example.com" and "*" in (case.contact_email or "")
    assert case.review_due_at > utcnow() and case.completion_due_at > case.review_due_at
    await ask_for_info(db, world, case, "Please send a photo of the cup.")
    view = await as_consumer(db, token, lambda u: consumer.receipt(u, token))
    (shown,) = view.refund_cases
    assert shown.status == "AWAITING_INFO" and shown.can_provide_info
    assert shown.info_request == "Please send a photo of the cup."
    assert [e.type for e in shown.timeline] == ["submitted", "review_started", "info_requested"]
    assert [e.actor for e in shown.timeline] == ["CONSUMER", "MERCHANT", "MERCHANT"]
    assert shown.timeline[0].text == "已提交退款申请"
    assert str(view.transaction.refundable) == "70.00 CNY"
    answered = await as_consumer(db, token, lambda u: consumer.provide_info(
        u, token, case.id, message="photo sent by e-mail", locale="en"))
    assert answered.status == "UNDER_REVIEW"
    assert answered.timeline[-1].text == "You provided the information"
    assert answered.timeline[-1].note == "photo sent by e-mail"


async def test_cancel_while_undecided_only(db: Database, world: World) -> None:
    txn = await record_txn(db, world, amount="100.00")
    token = token_of(txn)
    first = await as_consumer(db, token, lambda u: consumer.apply_for_refund(u, token,
                                                                             _apply("10.00")))
    cancelled = await as_consumer(db, token, lambda u: consumer.cancel(u, token, first.id,
                                                                       reason="found it"))
    assert cancelled.status == "CANCELLED" and not cancelled.can_cancel
    second = await as_consumer(db, token, lambda u: consumer.apply_for_refund(u, token,
                                                                              _apply("10.00")))
    await approve(db, world, second)
    error = await _refused(db, world, token, lambda u: consumer.cancel(u, token, second.id),
                           "INVALID_STATE")
    assert isinstance(error, InvalidState)


async def test_refusals_write_nothing(db: Database, world: World) -> None:
    txn = await record_txn(db, world, amount="100.00")
    token = token_of(txn)
    await _refused(db, world, token, lambda u: consumer.apply_for_refund(
        u, token, _apply("100.01")), RefundError.AMOUNT_EXCEEDS_REFUNDABLE)
    await _refused(db, world, token, lambda u: consumer.apply_for_refund(
        u, token, _apply("10.001")), "INVALID_AMOUNT")
    await _refused(db, world, token, lambda u: consumer.apply_for_refund(
        u, token, _apply("10", description="x" * 2001)), "TOO_LONG")
    await _refused(db, world, token, lambda u: consumer.apply_for_refund(
        u, token, _apply("10", method=RefundMethod.BANK_TRANSFER)), "BANK_DESTINATION_REQUIRED")
    await _refused(db, world, token, lambda u: consumer.apply_for_refund(
        u, token, _apply("10", contact_email="not-an-address")), "INVALID_FORMAT")
    await as_consumer(db, token, lambda u: consumer.apply_for_refund(u, token, _apply("10")))
    await _refused(db, world, token, lambda u: consumer.apply_for_refund(u, token, _apply("10")),
                   ConsumerError.DUPLICATE_REQUEST)


async def test_another_payments_case_or_ticket_is_not_found(db: Database, world: World) -> None:
    mine, other = await record_txn(db, world), await record_txn(db, world)
    elsewhere = await record_txn(db, world, "b")
    token = token_of(mine)
    for txn in (other, elsewhere):
        case = await submit(db, world, txn, who="a" if txn is other else "b")
        for work in (lambda u, c=case: consumer.cancel(u, token, c.id),
                     lambda u, c=case: consumer.provide_info(u, token, c.id, message="hi"),
                     lambda u, c=case: consumer.open_complaint(u, token, consumer.FileComplaint(
                         category=ComplaintCategory.OTHER, description="x", refund_case_id=c.id)),
                     lambda u, c=case: consumer.rate_complaint(u, token, c.id, rating=5)):
            await _refused(db, world, token, work, "NOT_FOUND")
    # Another payment's token opens a scope the service refuses to use for this one
    other_token = token_of(other)

    async def crossed(uow: UnitOfWork) -> object:
        return await consumer.receipt(uow, token)
    with pytest.raises(NotFound):
        await as_consumer(db, other_token, crossed)


async def test_revoked_reissued_forged_and_expired_receipts_are_all_not_found(
        db: Database, world: World) -> None:
    txn = await record_txn(db, world)
    old = token_of(txn)
    fresh = await revoke(db, world, txn, reissue=True)
    new = token_of(fresh)
    assert new != old
    view = await as_consumer(db, new, lambda u: consumer.receipt(u, new))
    assert view.transaction.id == txn.id
    revoked = await revoke(db, world, fresh, reissue=False)
    stale = await record_txn(db, world, paid_at=utcnow() - timedelta(days=400))
    for token in (old, new, token_of(revoked), old[:-2] + "AA", "", "x" * 500, token_of(stale)):
        error = await _refused(db, world, token, lambda u, t=token: consumer.receipt(u, t),
                               "NOT_FOUND")
        assert error.field == ["receiptToken"]
        await _refused(db, world, token, lambda u, t=token: consumer.apply_for_refund(
            u, t, _apply("1")), "NOT_FOUND")


async def test_an_expired_window_keeps_a_followed_case_open(db: Database, world: World) -> None:
    """Past the window, a receipt with a case stays readable, but applies are refused."""
    txn = await record_txn(db, world, paid_at=utcnow() - timedelta(days=364, hours=23))
    token = token_of(txn)
    await as_consumer(db, token, lambda u: consumer.apply_for_refund(u, token, _apply("5")))
    view = await as_consumer(db, token, lambda u: consumer.receipt(u, token))
    assert view.expires_at > utcnow() + timedelta(days=170)


async def test_complaint_thread_shows_public_replies_only_and_rates_once(
        db: Database, world: World) -> None:
    txn = await record_txn(db, world)
    token = token_of(txn)
    case = await as_consumer(db, token, lambda u: consumer.apply_for_refund(u, token,
                                                                            _apply("10")))
    ticket = await as_consumer(db, token, lambda u: consumer.open_complaint(
        u, token, consumer.FileComplaint(category=ComplaintCategory.REFUND_DELAY,
                                         description="no answer yet", refund_case_id=case.id,
                                         contact_email="li@example.com")))
    assert ticket.status == "OPEN" and ticket.refund_case_id == case.id and not ticket.can_rate
    await _refused(db, world, token, lambda u: consumer.rate_complaint(u, token, ticket.id,
                                                                       rating=5), "INVALID_STATE")
    await resolve_ticket(db, world, ticket)
    view = await as_consumer(db, token, lambda u: consumer.receipt(u, token))
    (shown,) = view.complaints
    assert [(m.author, m.body) for m in shown.messages] == [
        ("MERCHANT", "We are sorry, we will check.")]
    assert shown.resolution == "EXPLAINED" and shown.can_rate
    rendered = repr(view)
    assert "internal" not in rendered and "Wang" not in rendered and "api_key" not in rendered
    await _refused(db, world, token, lambda u: consumer.rate_complaint(u, token, ticket.id,
                                                                       rating=6), "OUT_OF_RANGE")
    rated = await as_consumer(db, token, lambda u: consumer.rate_complaint(
        u, token, ticket.id, rating=4, comment="fine"))
    assert rated.rating == 4 and not rated.can_rate
    await _refused(db, world, token, lambda u: consumer.rate_complaint(u, token, ticket.id,
                                                                       rating=5), "ALREADY_RATED")
    replied = await as_consumer(db, token, lambda u: consumer.reply_to_complaint(
        u, token, ticket.id, message="thanks"))
    assert replied.messages[-1].author == "CONSUMER"
