"""DUPLICATE_CHARGE and AMOUNT_MISMATCH: checked when a payment is recorded."""

from __future__ import annotations

from datetime import timedelta

from qrefund.platform.clock import utcnow
from qrefund.platform.risk import service
from qrefund.platform.risk.models import FlagStatus
from tests.refunds.helpers import scope_of
from tests.risk.helpers import flags, pay

PAYER = "6222 0000 1111 2222"


async def _dismiss(db, world, flag, note="known double scan"):
    scope = await scope_of(db, world, "a", "REFUND_AGENT")
    async with db.unit_of_work(scope) as uow:
        return await service.dismiss(uow, flag.tenant_id, flag.id, note)


async def test_duplicate_charge_flags_the_second_payment(db, world):
    # Given a payment, when the same payer pays the same amount at the same terminal again
    first = await pay(db, world, payer=PAYER)
    second = await pay(db, world, payer="6222-0000-1111-2222")  # the same account, typed apart
    # Then the second payment is flagged, with the first as evidence
    [flag] = await flags(db, world, "DUPLICATE_CHARGE")
    assert (flag.subject_type, flag.subject_id, flag.status) == ("TRANSACTION", second.id, "OPEN")
    assert flag.evidence["transactions"] == [str(second.id), str(first.id)]
    assert flag.severity in ("MEDIUM", "HIGH") and 0 < flag.score <= 100
    assert PAYER.replace(" ", "") not in str(flag.evidence)  # evidence holds ids, not accounts


async def test_duplicate_charge_needs_same_terminal_amount_and_window(db, world):
    await pay(db, world, payer=PAYER)
    await pay(db, world, payer=PAYER, terminal="T2")  # another terminal
    await pay(db, world, payer=PAYER, amount="100.01")  # another amount
    await pay(db, world, payer=PAYER, paid_at=utcnow() - timedelta(minutes=30))  # too long ago
    await pay(db, world, payer="6222 0000 9999 2222")  # another payer
    await pay(db, world, payer=None)  # no payer known
    assert await flags(db, world, "DUPLICATE_CHARGE") == []


async def test_dismissals_loosen_duplicate_charge_for_the_merchant(db, world):
    # Given four duplicate pairs at merchant a, each flagged and dismissed as a false alarm
    for i in range(4):
        await pay(db, world, payer=f"6222 0000 0000 000{i}")
        await pay(db, world, payer=f"6222 0000 0000 000{i}")
    found = await flags(db, world, "DUPLICATE_CHARGE")
    assert len(found) == 4
    for flag in found:
        reviewed = await _dismiss(db, world, flag)
        assert reviewed.status == FlagStatus.DISMISSED and reviewed.note == "known double scan"
        assert reviewed.reviewer.startswith("api_key:")
    # When another pair comes: the rule now needs two other matching payments (1 x 2.0)
    await pay(db, world, payer=PAYER)
    await pay(db, world, payer=PAYER)
    assert len(await flags(db, world, "DUPLICATE_CHARGE")) == 4
    # ... which a third charge is
    third = await pay(db, world, payer=PAYER)
    new = [f for f in await flags(db, world, "DUPLICATE_CHARGE") if f.subject_id == third.id]
    assert len(new) == 1 and new[0].status == "OPEN"
    # And merchant b's rule is untouched by a's feedback
    await pay(db, world, "b", payer=PAYER)
    await pay(db, world, "b", payer=PAYER)
    assert [f.tenant_id for f in await flags(db, world, "DUPLICATE_CHARGE")].count(
        world.merchant_b) == 1


async def test_amount_mismatch_reported_by_the_integrator(db, world):
    # Given the integrator's order said 90.00 and 100.00 was charged
    txn = await pay(db, world, amount="100.00", expected="90.00")
    [flag] = await flags(db, world, "AMOUNT_MISMATCH")
    assert flag.subject_id == txn.id and flag.evidence["transactions"] == [str(txn.id)]
    assert (flag.evidence["chargedMinor"], flag.evidence["expectedMinor"]) == (10000, 9000)


async def test_amount_mismatch_negative_and_policy_threshold(client, db, world):
    await pay(db, world, amount="100.00", expected="100.00")  # as expected
    await pay(db, world, amount="100.00")  # nothing reported
    assert await flags(db, world, "AMOUNT_MISMATCH") == []
    # A merchant that tolerates 5 % differences (rounding at the till) is not flagged at 1 %
    from tests.refunds.api import publish

    await publish(client, world.key("a"), riskRules=[
        {"rule": "AMOUNT_MISMATCH", "threshold": "5"}])
    await pay(db, world, amount="100.00", expected="99.00")
    assert await flags(db, world, "AMOUNT_MISMATCH") == []
    await pay(db, world, amount="100.00", expected="90.00")
    assert len(await flags(db, world, "AMOUNT_MISMATCH")) == 1


async def test_a_rule_switched_off_in_the_policy_does_not_run(client, db, world):
    from tests.refunds.api import publish

    await publish(client, world.key("a"), riskRules=[
        {"rule": "AMOUNT_MISMATCH", "enabled": False}])
    await pay(db, world, amount="100.00", expected="50.00")
    assert await flags(db, world, "AMOUNT_MISMATCH") == []


async def test_amount_mismatch_dismissal_is_kept_when_seen_again(db, world, job_runtime):
    # Given a flagged payment whose flag was dismissed
    txn = await pay(db, world, amount="100.00", expected="90.00")
    [flag] = await flags(db, world, "AMOUNT_MISMATCH")
    await _dismiss(db, world, flag, "the till added a tip")
    # When the periodic scan runs the rules over the payment again
    from qrefund.jobs.risk import risk_scan_merchant

    result = await risk_scan_merchant(str(txn.tenant_id))
    # Then the same flag stays dismissed (one per payment and rule), nothing new is raised
    [again] = await flags(db, world, "AMOUNT_MISMATCH")
    assert (again.id, again.status, again.note) == (flag.id, "DISMISSED", "the till added a tip")
    assert result["flagged"] == 0 and result["transactions"] >= 1
