"""idempotencyKey on submitRefundRequest and approveRefund: a replay returns the first
result with no second effect; the same key with other input is refused."""

from __future__ import annotations

import asyncio

import pytest

from tests.refunds.api import error_code, mutate, submit, submitted_case
from tests.refunds.helpers import counts, record_txn, reload_txn


async def test_submit_replay_returns_the_first_case(client, db, world):
    txn = await record_txn(db, world)
    key = world.key("a", "INTEGRATION")
    first = await submitted_case(client, key, txn, "10.00", idempotencyKey="pos-17-req-1")
    before = await counts(db, world)
    again = await submitted_case(client, key, txn, "10.00", idempotencyKey="pos-17-req-1")
    assert again["id"] == first["id"] and again["caseNumber"] == first["caseNumber"]
    assert await counts(db, world) == before
    fresh = await reload_txn(db, world, txn)
    assert (fresh.reserved_minor, fresh.refund_count) == (1000, 1)


async def test_submit_same_key_other_input_is_refused(client, db, world):
    txn = await record_txn(db, world)
    key = world.key("a", "INTEGRATION")
    await submitted_case(client, key, txn, "10.00", idempotencyKey="k-1")
    before = await counts(db, world)
    payload = await submit(client, key, txn, "11.00", idempotencyKey="k-1")
    assert error_code(payload) == "IDEMPOTENCY_KEY_REUSED"
    assert payload["userErrors"][0]["field"] == ["idempotencyKey"]
    assert await counts(db, world) == before


async def test_keys_are_per_merchant(client, db, world):
    txn_a, txn_b = await record_txn(db, world, "a"), await record_txn(db, world, "b")
    one = await submitted_case(client, world.key("a", "INTEGRATION"), txn_a, idempotencyKey="x")
    two = await submitted_case(client, world.key("b", "INTEGRATION"), txn_b, idempotencyKey="x")
    assert one["id"] != two["id"]


async def test_a_refused_submission_does_not_burn_the_key(client, db, world):
    txn = await record_txn(db, world, amount="10.00")
    key = world.key("a", "INTEGRATION")
    payload = await submit(client, key, txn, "20.00", idempotencyKey="retry-me")
    assert error_code(payload) == "AMOUNT_EXCEEDS_REFUNDABLE"
    payload = await submit(client, key, txn, "20.00", idempotencyKey="retry-me")
    assert error_code(payload) == "AMOUNT_EXCEEDS_REFUNDABLE"


async def test_approve_replay_has_no_second_effect(client, db, world):
    txn = await record_txn(db, world, amount="100.00")
    case = await submitted_case(client, world.key("a", "INTEGRATION"), txn, "40.00")
    agent = world.key("a", "REFUND_AGENT")
    await mutate(client, "StartRefundReview", agent, id=case["id"])
    first = await mutate(client, "ApproveRefund", agent, id=case["id"], amount="30.00",
                         idempotencyKey="approve-1")
    before = await counts(db, world)
    again = await mutate(client, "ApproveRefund", agent, id=case["id"], amount="30.00",
                         idempotencyKey="approve-1")
    assert again["userErrors"] == [] and again["refundCase"] == first["refundCase"]
    assert await counts(db, world) == before
    assert (await reload_txn(db, world, txn)).reserved_minor == 3000
    reused = await mutate(client, "ApproveRefund", agent, id=case["id"], amount="20.00",
                          idempotencyKey="approve-1")
    assert error_code(reused) == "IDEMPOTENCY_KEY_REUSED"
    # Without the key, a second approval is simply an illegal transition.
    plain = await mutate(client, "ApproveRefund", agent, id=case["id"], amount="30.00")
    assert error_code(plain) == "INVALID_STATE"


@pytest.mark.postgres_only
async def test_concurrent_replays_make_one_case(client, db, world):
    txn = await record_txn(db, world)
    key = world.key("a", "INTEGRATION")
    results = await asyncio.gather(*[
        submit(client, key, txn, "10.00", idempotencyKey="burst") for _ in range(8)])
    assert {r["refundCase"]["id"] for r in results} == {results[0]["refundCase"]["id"]}
    fresh = await reload_txn(db, world, txn)
    assert (fresh.reserved_minor, fresh.refund_count) == (1000, 1)
