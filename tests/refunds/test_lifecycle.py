"""Review and decision: refusals first (wrong state, role, amount, reason, deadline), then
the transitions, their timeline and what they do to the transaction's money."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from qrefund.graphql_schema import ids
from qrefund.platform.clock import utcnow
from qrefund.platform.errors import InvalidState
from qrefund.platform.outbox.models import DomainEvent
from qrefund.platform.refunds import service
from qrefund.platform.refunds.lifecycle import TRANSITIONS, Action, next_status
from qrefund.platform.refunds.models import RefundCase
from tests.refunds.api import error_code, mutate, publish, submitted_case
from tests.refunds.helpers import counts, record_txn, reload_txn, scope_of
from tests.support.graphql import ok
from tests.support.raw import unchecked

AGENT = ("a", "REFUND_AGENT")


def case_key(case):
    return ids.scoped_id(case["id"], "RefundCase")


async def new_case(client, db, world, amount="30.00", txn_amount="100.00", review=True):
    txn = await record_txn(db, world, amount=txn_amount)
    case = await submitted_case(client, world.key("a", "INTEGRATION"), txn, amount)
    if review:
        payload = await mutate(client, "StartRefundReview", world.key(*AGENT), id=case["id"])
        case = payload["refundCase"]
    return txn, case


async def refused(client, db, world, name, code, key=None, **input):
    before = await counts(db, world)
    payload = await mutate(client, name, key or world.key(*AGENT), **input)
    assert error_code(payload) == code, payload
    assert await counts(db, world) == before
    return payload


async def test_the_table_refuses_every_unlisted_move():
    for action in Action:
        for state in service.S:
            if (action, state) in TRANSITIONS:
                assert next_status(action, state) == TRANSITIONS[(action, state)]
            else:
                with pytest.raises(InvalidState):
                    next_status(action, state)


async def test_another_tenants_case_id_is_not_found(client, db, world):
    _txn, case = await new_case(client, db, world)
    for key in (world.key("b", "ADMIN"), world.key("other_agency"), world.key("c", "ADMIN")):
        await refused(client, db, world, "ApproveRefund", "NOT_FOUND", key=key, id=case["id"])
        await refused(client, db, world, "CancelRefund", "NOT_FOUND", key=key, id=case["id"])


async def test_malformed_or_foreign_type_ids_are_not_found(client, db, world):
    txn = await record_txn(db, world)
    await refused(client, db, world, "ApproveRefund", "NOT_FOUND", id="bm9wZQ")
    await refused(client, db, world, "ApproveRefund", "NOT_FOUND",
                  id=ids.encode("Transaction", txn.tenant_id, txn.id))


@pytest.mark.parametrize("role", ["VIEWER", "INTEGRATION", "SUPPORT"])
async def test_only_deciders_decide(client, db, world, role):
    _txn, case = await new_case(client, db, world)
    await refused(client, db, world, "ApproveRefund", "FORBIDDEN", key=world.key("a", role),
                  id=case["id"])
    await refused(client, db, world, "RejectRefund", "FORBIDDEN", key=world.key("a", role),
                  id=case["id"], reason="no")


@pytest.mark.parametrize("role", ["VIEWER", "INTEGRATION", "SUPPORT"])
async def test_only_deciders_review_ask_and_extend(client, db, world, role):
    key = world.key("a", role)
    _txn, submitted = await new_case(client, db, world, review=False)
    await refused(client, db, world, "StartRefundReview", "FORBIDDEN", key=key,
                  id=submitted["id"])
    _txn, case = await new_case(client, db, world)
    await refused(client, db, world, "RequestRefundInfo", "FORBIDDEN", key=key, id=case["id"],
                  message="a photo of the receipt, please")
    until = (datetime.fromisoformat(case["reviewDueAt"]) + timedelta(hours=1)).isoformat()
    await refused(client, db, world, "ExtendRefundDeadline", "FORBIDDEN", key=key,
                  id=case["id"], until=until, reason="supplier slow")


@pytest.mark.parametrize("role", ["VIEWER", "SUPPORT"])
async def test_readers_cannot_record_the_consumers_answer(client, db, world, role):
    _txn, case = await new_case(client, db, world)
    await mutate(client, "RequestRefundInfo", world.key(*AGENT), id=case["id"],
                 message="a photo of the receipt, please")
    await refused(client, db, world, "ProvideRefundInfo", "FORBIDDEN", key=world.key("a", role),
                  id=case["id"], message="photo sent")


async def test_review_info_and_extension_in_the_wrong_state(client, db, world):
    _txn, submitted = await new_case(client, db, world, review=False)
    await refused(client, db, world, "RequestRefundInfo", "INVALID_STATE", id=submitted["id"],
                  message="why?")
    _txn, case = await new_case(client, db, world)
    await refused(client, db, world, "StartRefundReview", "INVALID_STATE", id=case["id"])
    await refused(client, db, world, "ProvideRefundInfo", "INVALID_STATE", id=case["id"],
                  message="nobody asked")
    until = (datetime.fromisoformat(case["reviewDueAt"]) + timedelta(hours=1)).isoformat()
    await mutate(client, "RejectRefund", world.key(*AGENT), id=case["id"], reason="used item")
    await refused(client, db, world, "RejectRefund", "INVALID_STATE", id=case["id"],
                  reason="again")
    await refused(client, db, world, "ExtendRefundDeadline", "INVALID_STATE", id=case["id"],
                  until=until, reason="too late")


async def test_approve_of_a_rejected_or_cancelled_case(client, db, world):
    _txn, rejected = await new_case(client, db, world)
    await mutate(client, "RejectRefund", world.key(*AGENT), id=rejected["id"], reason="used item")
    await refused(client, db, world, "ApproveRefund", "INVALID_STATE", id=rejected["id"])
    _txn, cancelled = await new_case(client, db, world)
    await mutate(client, "CancelRefund", world.key(*AGENT), id=cancelled["id"])
    await refused(client, db, world, "ApproveRefund", "INVALID_STATE", id=cancelled["id"])
    await refused(client, db, world, "CancelRefund", "INVALID_STATE", id=cancelled["id"])


async def test_approve_needs_the_review_started(client, db, world):
    _txn, case = await new_case(client, db, world, review=False)
    await refused(client, db, world, "ApproveRefund", "INVALID_STATE", id=case["id"])


async def test_approve_above_the_requested_amount(client, db, world):
    txn, case = await new_case(client, db, world, "30.00")
    await refused(client, db, world, "ApproveRefund", "AMOUNT_EXCEEDS_REQUESTED", id=case["id"],
                  amount="30.01")
    await refused(client, db, world, "ApproveRefund", "INVALID_AMOUNT", id=case["id"],
                  amount="1.001")
    assert (await reload_txn(db, world, txn)).reserved_minor == 3000


async def test_partial_approval_when_the_policy_forbids_it(client, db, world):
    await publish(client, world.key("a"), allowPartial=False)
    _txn, case = await new_case(client, db, world, "100.00")
    await refused(client, db, world, "ApproveRefund", "PARTIAL_REFUND_NOT_ALLOWED", id=case["id"],
                  amount="50.00")


async def test_reject_without_a_reason(client, db, world):
    _txn, case = await new_case(client, db, world)
    await refused(client, db, world, "RejectRefund", "REQUIRED", id=case["id"], reason="   ")


async def test_extension_past_the_policy_maximum_or_into_the_past(client, db, world):
    await publish(client, world.key("a"), maxExtensionHours=24)
    _txn, case = await new_case(client, db, world)
    due = datetime.fromisoformat(case["reviewDueAt"])
    too_far = (due + timedelta(hours=24, minutes=1)).isoformat()
    await refused(client, db, world, "ExtendRefundDeadline", "EXTENSION_TOO_LONG", id=case["id"],
                  until=too_far, reason="supplier slow")
    past = (utcnow() - timedelta(hours=1)).isoformat()
    await refused(client, db, world, "ExtendRefundDeadline", "INVALID_DATETIME", id=case["id"],
                  until=past, reason="oops")
    earlier = (due - timedelta(hours=1)).isoformat()
    await refused(client, db, world, "ExtendRefundDeadline", "INVALID_DATETIME", id=case["id"],
                  until=earlier, reason="oops")
    await refused(client, db, world, "ExtendRefundDeadline", "REQUIRED", id=case["id"],
                  until=(due + timedelta(hours=1)).isoformat(), reason="")
    # Within the allowance, in two steps; the third exceeds what is left.
    for hours in (12, 24):
        payload = await mutate(client, "ExtendRefundDeadline", world.key(*AGENT), id=case["id"],
                               until=(due + timedelta(hours=hours)).isoformat(), reason="stock")
        assert payload["userErrors"] == []
        assert datetime.fromisoformat(payload["refundCase"]["reviewDueAt"]) == \
            due + timedelta(hours=hours)
    await refused(client, db, world, "ExtendRefundDeadline", "EXTENSION_TOO_LONG", id=case["id"],
                  until=(due + timedelta(hours=25)).isoformat(), reason="more")


async def test_extension_records_the_consumer_notice(client, db, world):
    _txn, case = await new_case(client, db, world)
    due = datetime.fromisoformat(case["reviewDueAt"])
    completion = datetime.fromisoformat(case["completionDueAt"])
    payload = await mutate(client, "ExtendRefundDeadline", world.key(*AGENT), id=case["id"],
                           until=(due + timedelta(hours=6)).isoformat(), reason="courier late")
    assert datetime.fromisoformat(payload["refundCase"]["completionDueAt"]) == \
        completion + timedelta(hours=6)
    async with db.unit_of_work(await scope_of(db, world, "a")) as uow:
        event = (await unchecked(uow).execute(select(DomainEvent).where(
            DomainEvent.type == "refund_case.deadline_extended"))).scalar_one()
        assert datetime.fromisoformat(event.payload["notifyConsumerBy"]) == due
        assert event.payload["note"] == "courier late"
        row = (await unchecked(uow).execute(select(RefundCase))).scalar_one()
        assert row.extension_notice_due_at == due


async def test_full_review_and_payout_timeline(client, db, world):
    txn, case = await new_case(client, db, world, "30.00")
    agent = world.key(*AGENT)
    info = await mutate(client, "RequestRefundInfo", agent, id=case["id"], message="photo please")
    assert info["refundCase"]["status"] == "AWAITING_INFO"
    assert info["refundCase"]["nextDueAt"] is None  # the review clock is paused
    await refused(client, db, world, "ApproveRefund", "INVALID_STATE", id=case["id"])
    answered = await mutate(client, "ProvideRefundInfo", world.key("a", "INTEGRATION"),
                            id=case["id"], message="photo sent")
    assert answered["refundCase"]["status"] == "UNDER_REVIEW"
    approved = await mutate(client, "ApproveRefund", agent, id=case["id"], amount="25.00",
                            note="goodwill")
    assert approved["refundCase"]["status"] == "APPROVED"
    assert approved["refundCase"]["approvedAmount"] == {"amount": "25.00", "currency": "CNY"}
    fresh = await reload_txn(db, world, txn)
    assert (fresh.reserved_minor, fresh.refunded_minor, fresh.refund_count) == (2500, 0, 1)

    tenant_id, case_id = case_key(case)
    async with db.unit_of_work(await scope_of(db, world, "a", "ADMIN")) as uow:
        await service.begin_payout(uow, tenant_id, case_id)
        await service.fail_payout(uow, tenant_id, case_id, "bank said no")
    async with db.unit_of_work(await scope_of(db, world, "a", "ADMIN")) as uow:
        await service.begin_payout(uow, tenant_id, case_id)
        done = await service.complete_payout(uow, tenant_id, case_id)
        assert done.status == "REFUNDED"
    fresh = await reload_txn(db, world, txn)
    assert (fresh.reserved_minor, fresh.refunded_minor, fresh.refund_count) == (0, 2500, 1)

    data = await ok(client, """query($id: ID!) { node(id: $id) { ... on RefundCase {
        status refundedAt events { seq type fromStatus toStatus actor note }
        lastEvent { type } transaction { refundedAmount { amount } } } } }""",
                    {"id": case["id"]}, key=world.key("a", "VIEWER"))
    node = data["node"]
    assert node["status"] == "REFUNDED" and node["refundedAt"]
    assert node["transaction"]["refundedAmount"]["amount"] == "25.00"
    steps = [(e["type"], e["fromStatus"], e["toStatus"]) for e in node["events"]]
    assert steps == [
        ("submitted", None, "SUBMITTED"), ("review_started", "SUBMITTED", "UNDER_REVIEW"),
        ("info_requested", "UNDER_REVIEW", "AWAITING_INFO"),
        ("info_provided", "AWAITING_INFO", "UNDER_REVIEW"),
        ("approved", "UNDER_REVIEW", "APPROVED"), ("processing", "APPROVED", "PROCESSING"),
        ("payout_failed", "PROCESSING", "PAYOUT_FAILED"),
        ("processing", "PAYOUT_FAILED", "PROCESSING"), ("refunded", "PROCESSING", "REFUNDED"),
    ]
    assert [e["seq"] for e in node["events"]] == list(range(1, 10))
    assert node["events"][4]["note"] == "goodwill"
    assert node["events"][4]["actor"].startswith("api_key:")
    assert node["lastEvent"]["type"] == "refunded"
    async with db.unit_of_work(await scope_of(db, world, "a")) as uow:
        outbox = (await unchecked(uow).execute(select(DomainEvent.type, DomainEvent.payload).where(
            DomainEvent.aggregate_id == case_id).order_by(DomainEvent.seq))).all()
    assert [t for t, _ in outbox] == [f"refund_case.{s[0]}" for s in steps]
    approved_payload = dict(outbox)["refund_case.approved"]
    assert {k: approved_payload[k] for k in ("caseId", "transactionId", "amountMinor", "currency",
                                             "method", "caseNumber")} == {
        "caseId": str(case_id), "transactionId": str(txn.id), "amountMinor": 2500,
        "currency": "CNY", "method": "ORIGINAL_ROUTE", "caseNumber": case["caseNumber"]}


async def test_paused_time_moves_the_deadlines(client, db, world):
    _txn, case = await new_case(client, db, world)
    tenant_id, case_id = case_key(case)
    await mutate(client, "RequestRefundInfo", world.key(*AGENT), id=case["id"], message="?")
    # Pretend the request for information went out three hours ago.
    async with db.unit_of_work(await scope_of(db, world, "a")) as uow:
        row = await service.get_case(uow, tenant_id, case_id, lock=True)
        row.review_paused_at = utcnow() - timedelta(hours=3)
        review, completion = row.review_due_at, row.completion_due_at
    payload = await mutate(client, "ProvideRefundInfo", world.key(*AGENT), id=case["id"],
                           message="answer")
    moved = datetime.fromisoformat(payload["refundCase"]["reviewDueAt"]) - review
    assert timedelta(hours=3) <= moved < timedelta(hours=3, minutes=1)
    moved = datetime.fromisoformat(payload["refundCase"]["completionDueAt"]) - completion
    assert timedelta(hours=3) <= moved < timedelta(hours=3, minutes=1)
    assert payload["refundCase"]["nextDueAt"] == payload["refundCase"]["reviewDueAt"]


async def test_reject_and_cancel_release_the_money_and_the_slot(client, db, world):
    txn = await record_txn(db, world, amount="100.00")
    key = world.key("a", "INTEGRATION")
    first = await submitted_case(client, key, txn, "40.00")
    second = await submitted_case(client, key, txn, "50.00")
    await mutate(client, "StartRefundReview", world.key(*AGENT), id=first["id"])
    rejected = await mutate(client, "RejectRefund", world.key(*AGENT), id=first["id"],
                            reason="not our product")
    assert rejected["refundCase"]["decisionNote"] == "not our product"
    # The integration withdraws its own undecided request...
    cancelled = await mutate(client, "CancelRefund", key, id=second["id"], reason="changed mind")
    assert cancelled["refundCase"]["status"] == "CANCELLED"
    fresh = await reload_txn(db, world, txn)
    assert (fresh.reserved_minor, fresh.refund_count, fresh.refundable_minor) == (0, 0, 10000)
    # ...but only deciders stop an approved refund.
    third = await submitted_case(client, key, txn, "10.00")
    await mutate(client, "StartRefundReview", world.key(*AGENT), id=third["id"])
    await mutate(client, "ApproveRefund", world.key(*AGENT), id=third["id"])
    await refused(client, db, world, "CancelRefund", "FORBIDDEN", key=key, id=third["id"])
    ok_cancel = await mutate(client, "CancelRefund", world.key(*AGENT), id=third["id"])
    assert ok_cancel["refundCase"]["status"] == "CANCELLED"
    assert (await reload_txn(db, world, txn)).reserved_minor == 0


async def test_cancel_after_a_failed_payout_releases_the_reservation(client, db, world):
    txn, case = await new_case(client, db, world, "30.00")
    await mutate(client, "ApproveRefund", world.key(*AGENT), id=case["id"])
    tenant_id, case_id = case_key(case)
    async with db.unit_of_work(await scope_of(db, world, "a")) as uow:
        await service.begin_payout(uow, tenant_id, case_id)
        with pytest.raises(InvalidState):
            await service.begin_payout(uow, tenant_id, case_id)
    async with db.unit_of_work(await scope_of(db, world, "a")) as uow:
        with pytest.raises(InvalidState):  # PROCESSING cannot be cancelled: money is moving
            await service.cancel(uow, tenant_id, case_id)
    async with db.unit_of_work(await scope_of(db, world, "a")) as uow:
        await service.fail_payout(uow, tenant_id, case_id, "account closed")
    assert (await reload_txn(db, world, txn)).reserved_minor == 3000
    payload = await mutate(client, "CancelRefund", world.key(*AGENT), id=case["id"])
    assert payload["refundCase"]["status"] == "CANCELLED"
    assert (await reload_txn(db, world, txn)).reserved_minor == 0


async def test_agency_decides_on_its_merchants_cases(client, db, world):
    _txn, case = await new_case(client, db, world)
    payload = await mutate(client, "ApproveRefund", world.key("agency"), id=case["id"],
                           amount=str(Decimal("12.34")))
    assert payload["refundCase"]["status"] == "APPROVED"


async def test_record_case_event_for_other_domains(client, db, world):
    _txn, case = await new_case(client, db, world)
    tenant_id, case_id = case_key(case)
    async with db.unit_of_work(await scope_of(db, world, "a")) as uow:
        row = await service.get_case(uow, tenant_id, case_id, lock=True)
        row.escalation_level += 1
        await service.record_case_event(uow, row, type="deadline_breached", note="review overdue")
    async with db.unit_of_work(await scope_of(db, world, "a")) as uow:
        types = (await unchecked(uow).execute(select(DomainEvent.type).where(
            DomainEvent.aggregate_id == case_id).order_by(DomainEvent.seq))).scalars().all()
    assert types[-1] == "refund_case.deadline_breached"
