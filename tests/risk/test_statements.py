"""Statement counts: flags on a page of payments or cases, and riskFlags pages, cost the same
number of statements whatever the page size (batched by the loaders)."""

from __future__ import annotations

from qrefund.platform.risk import service
from tests.foundation.test_sql_count import _statements_per_size
from tests.refunds.helpers import scope_of
from tests.risk.helpers import pay, refund

_TXNS = """query($first: Int!) { transactions(first: $first) { edges { node { id
  flags { id rule merchant { id } } } } } }"""
_CASES = """query($first: Int!) { refundCases(first: $first) { edges { node { id
  flags { id rule evidenceRefundCaseIds } transaction { id flags { id } } } } } }"""
_FLAGS = """query($first: Int!) { riskFlags(first: $first) { totalCount edges { node { id rule
  merchant { id name } figures } } } }"""


async def test_flag_fields_do_not_grow_with_page_size(client, db, world):
    # Given 50 flagged payments, each with a refund case
    for _ in range(50):
        txn = await pay(db, world, amount="12.50", expected="10.00", terminal=None, store=None)
        await refund(db, world, txn, "1.00")
    key = world.key("a")
    for query, field in ((_TXNS, "transactions"), (_CASES, "refundCases"),
                         (_FLAGS, "riskFlags")):
        counts = await _statements_per_size(client, db, query, key, field)
        assert counts[1] == counts[5] == counts[50], (field, counts)


async def test_open_flags_summary_for_a_digest(db, world):
    for _ in range(2):
        await pay(db, world, amount="12.50", expected="10.00")
    await pay(db, world, "b", amount="12.50", expected="10.00")
    await pay(db, world, "c", amount="1250", expected="1000", currency="JPY")
    scope = await scope_of(db, world, "agency")
    async with db.unit_of_work(scope, readonly=True) as uow:
        summary = await service.open_flags_summary(
            uow, [world.merchant_a, world.merchant_b, world.merchant_c])
    # The agency's two merchants, grouped by rule and severity; merchant c is not its own
    assert sorted((s.merchant_id, s.rule, s.count) for s in summary) == sorted([
        (world.merchant_a, "AMOUNT_MISMATCH", 2), (world.merchant_b, "AMOUNT_MISMATCH", 1)])
    assert all(s.oldest_at is not None for s in summary)
