"""Resolving with a follow-up refund case: opened through refunds intake on the same
payment (its rules and roles), linked to the ticket; refusals write nothing."""

from __future__ import annotations

from qrefund.platform.refunds.models import RefundCase
from tests.complaints.api import done, error_code, mutate, opened
from tests.complaints.helpers import counts, rows
from tests.refunds.helpers import record_txn, reload_txn

ADMIN = ("a", "ADMIN")


async def refused(client, db, world, code, key, **input):
    before = await counts(db, world)
    payload = await mutate(client, "ResolveComplaint", key, **input)
    assert error_code(payload) == code, payload
    assert await counts(db, world) == before


async def test_a_goodwill_resolution_opens_a_linked_refund_case(client, db, world):
    txn = await record_txn(db, world, amount="100.00")
    ticket = await opened(client, world.key(*ADMIN), txn=txn, category="WRONG_AMOUNT")
    resolved = await done(client, "ResolveComplaint", world.key(*ADMIN), id=ticket["id"],
                          resolution="GOODWILL", note="We refund the difference.",
                          followUpRefund={"amount": "12.50"})
    case = resolved["followUpRefundCase"]
    assert case["status"] == "SUBMITTED" and case["reason"] == "AMOUNT_MISMATCH"
    assert case["requestedAmount"] == {"amount": "12.50", "currency": "CNY"}
    (row,) = await rows(db, world, RefundCase)
    assert row.description == f"Follow-up of complaint {ticket['ticketNumber']}"
    assert row.transaction_id == txn.id
    assert (await reload_txn(db, world, txn)).reserved_minor == 1250


async def test_the_follow_up_needs_a_role_that_may_submit_refunds(client, db, world):
    txn = await record_txn(db, world)
    ticket = await opened(client, world.key("a", "SUPPORT"), txn=txn)
    await refused(client, db, world, "FORBIDDEN", world.key("a", "SUPPORT"), id=ticket["id"],
                  resolution="REFUND_ISSUED", note="Refunded.", followUpRefund={"amount": "1.00"})


async def test_a_resolution_that_refunds_nothing_opens_no_case(client, db, world):
    ticket = await opened(client, world.key(*ADMIN), txn=await record_txn(db, world))
    for resolution in ("EXPLAINED", "REJECTED"):
        await refused(client, db, world, "FOLLOW_UP_NOT_ALLOWED", world.key(*ADMIN),
                      id=ticket["id"], resolution=resolution, note="No.",
                      followUpRefund={"amount": "1.00"})


async def test_the_refund_rules_still_hold(client, db, world):
    txn = await record_txn(db, world, amount="10.00")
    ticket = await opened(client, world.key(*ADMIN), txn=txn)
    await refused(client, db, world, "AMOUNT_EXCEEDS_REFUNDABLE", world.key(*ADMIN),
                  id=ticket["id"], resolution="REFUND_ISSUED", note="Refunded.",
                  followUpRefund={"amount": "10.01"})
    await refused(client, db, world, "INVALID_AMOUNT", world.key(*ADMIN), id=ticket["id"],
                  resolution="REFUND_ISSUED", note="Refunded.", followUpRefund={"amount": "-1"})


async def test_one_follow_up_per_ticket(client, db, world):
    txn = await record_txn(db, world, amount="100.00")
    key = world.key(*ADMIN)
    ticket = await opened(client, key, txn=txn)
    await done(client, "ResolveComplaint", key, id=ticket["id"], resolution="REFUND_ISSUED",
               note="Refunded.", followUpRefund={"amount": "5.00"})
    await done(client, "ReopenComplaint", key, id=ticket["id"], reason="Wants more")
    await refused(client, db, world, "FOLLOW_UP_NOT_ALLOWED", key, id=ticket["id"],
                  resolution="REFUND_RECONSIDERED", note="More.", followUpRefund={"amount": "5"})
