"""The daily rollup: maintained incrementally by its job, read for whole local days, and
always equal to the computation over the cases (a property test on random data)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, update

from qrefund.jobs import runtime
from qrefund.jobs.analytics import refund_stats_rollup
from qrefund.platform.analytics import rollup
from qrefund.platform.analytics.figures import Dimension as D
from qrefund.platform.analytics.figures import StatsResult
from qrefund.platform.analytics.models import (
    RefundStatsDay,
    RefundStatsMonth,
    StatsRollupState,
)
from qrefund.platform.clock import utcnow
from qrefund.platform.db import Database
from qrefund.platform.refunds.models import RefundCase
from qrefund.platform.transactions.models import Transaction
from tests.analytics.helpers import add_merchant, at, case_row, operator, stats, store
from tests.support.world import World

# February to April: whole months, month boundaries and Berlin's DST change (29 March).
WINDOW_START = at("2026-02-20T00:00:00Z")
WINDOW_HOURS = 24 * 50


def _same(direct: StatsResult, rolled: StatsResult) -> None:
    assert rolled.total.counts == direct.total.counts
    assert dict(rolled.total.amounts) == dict(direct.total.amounts)
    assert rolled.total.durations == direct.total.durations
    assert {k: (f.counts, dict(f.amounts)) for k, f in rolled.groups.items()} == {
        k: (f.counts, dict(f.amounts)) for k, f in direct.groups.items()}


async def _refresh(db: Database, world: World, **kw: Any) -> rollup.RollupRun:
    async with db.unit_of_work(await operator(db, world)) as uow:
        return await rollup.refresh(uow, **kw)


@pytest.fixture
def job_runtime(settings: Any, db: Database) -> Iterator[None]:
    runtime.reset()
    runtime.configure(settings=settings, db=db)
    yield
    runtime.reset()


async def test_whole_days_come_from_the_rollup_and_edges_from_the_cases(
        db: Database, world: World, job_runtime: None) -> None:
    # Given cases on three local days of Merchant A, rolled up by the job
    a = world.merchant_a
    t = at("2026-03-10T12:00:00+08:00")
    await store(db, world, *(case_row(a, t + timedelta(hours=h), status="REJECTED",
                                      rejected_at=t + timedelta(hours=h + 1), updated_at=utcnow())
                             for h in (-30, -20, 0, 5, 20, 30)))
    assert (await refund_stats_rollup())["days"] == 3
    scope = await operator(db, world)
    # When a period with two partial edge days is read both ways
    period = ("2026-03-09T10:00:00+08:00", "2026-03-11T09:00:00+08:00")
    rolled = await stats(db, scope, *period, group_by=(D.DAY,))
    direct = await stats(db, scope, *period, group_by=(D.DAY,), use_rollup=False)
    # Then the rollup answered the whole day and the figures are the same
    assert (rolled.source, direct.source) == ("rollup", "direct")
    _same(direct, rolled)
    assert rolled.total.counts["requested"] == 4
    # And a caller's own time zone, or a store breakdown, reads the cases only
    assert (await stats(db, scope, *period, timezone="UTC")).source == "direct"
    assert (await stats(db, scope, *period, group_by=(D.STORE,))).source == "direct"


async def test_a_run_recomputes_only_the_days_whose_cases_changed(
        db: Database, world: World, owner_engine: Any) -> None:
    # Given two days rolled up
    a = world.merchant_a
    t = at("2026-03-10T12:00:00+08:00")
    now, hour = utcnow(), timedelta(hours=1)
    first, _second = (case_row(a, t + timedelta(days=d), updated_at=now - hour)
                      for d in (0, 1))
    await store(db, world, first, _second)
    assert (await _refresh(db, world, now=now)).days == 2
    assert (await _refresh(db, world, now=now + hour)).days == 0  # nothing changed since
    # When one case is approved later
    with owner_engine.begin() as conn:
        conn.execute(update(RefundCase).where(RefundCase.id == first[1].id).values(
            status="APPROVED", approved_at=t + timedelta(hours=3), approved_minor=500,
            updated_at=now + 2 * hour))
    run = await _refresh(db, world, now=now + 3 * hour)
    # Then only its day is recomputed, and the rollup says what the cases say
    assert run.days == 1
    scope = await operator(db, world)
    period = ("2026-03-10T00:00:00+08:00", "2026-03-12T00:00:00+08:00")
    rolled = await stats(db, scope, *period)
    assert rolled.source == "rollup" and rolled.total.counts["approved"] == 1
    _same(await stats(db, scope, *period, use_rollup=False), rolled)


async def test_whole_months_come_from_the_monthly_level(
        db: Database, world: World, owner_engine: Any) -> None:
    # Given cases of a Shanghai and a Berlin merchant from February to April, rolled up
    _clear(owner_engine)
    a, berlin = world.merchant_a, await _merchant(db, world, owner_engine)
    t = at("2026-03-15T12:00:00+08:00")
    await store(db, world, *(case_row(m, t + timedelta(days=d), updated_at=utcnow())
                             for m in (a, berlin) for d in (-20, -13, 0, 10, 20)))
    await _refresh(db, world)
    # Then each month's row holds the sums of its days
    with owner_engine.begin() as conn:
        months = {(r.tenant_id, str(r.month)): r.requested
                  for r in conn.execute(select(RefundStatsMonth))}
    assert months == {(m, f"2026-{n:02}-01"): count for m in (a, berlin)
                      for n, count in ((2, 1), (3, 3), (4, 1))}
    # When March less its first two days (and, in Berlin, its partial last day) is read
    scope = await operator(db, world)
    period = ("2026-03-03T00:00:00+08:00", "2026-04-01T00:00:00+08:00")
    both = [a, berlin]
    rolled = await stats(db, scope, *period, merchants=both, group_by=(D.MONTH,))
    direct = await stats(db, scope, *period, merchants=both, group_by=(D.MONTH,),
                         use_rollup=False)
    # Then the monthly path says what the cases say
    assert (rolled.source, rolled.total.counts["requested"]) == ("rollup", 4)
    _same(direct, rolled)
    # And it was the monthly row that answered (a changed row changes the answer)
    with owner_engine.begin() as conn:
        conn.execute(update(RefundStatsMonth).where(RefundStatsMonth.tenant_id == a).values(
            requested=RefundStatsMonth.requested + 100))
    assert (await stats(db, scope, *period, merchants=both)).total.counts["requested"] == 104
    # And one merchant's period is read from its cases
    assert (await stats(db, scope, *period, merchants=[a])).source == "direct"
    _clear(owner_engine)


_OUTCOMES = ("open", "approved", "partial", "rejected", "cancelled", "refunded")
_case = st.tuples(st.integers(0, 1), st.integers(0, WINDOW_HOURS * 60 - 1),
                  st.sampled_from(_OUTCOMES), st.integers(1, 100), st.integers(0, 2),
                  st.booleans(), st.sampled_from(["CNY", "CNY", "USD"]))


def _row(merchants: list[Any], spec: tuple[int, int, str, int, int, bool, str]) -> Any:
    who, minute, outcome, hours, level, extended, currency = spec
    created = WINDOW_START + timedelta(minutes=minute)
    then = created + timedelta(hours=hours)
    fields: dict[str, Any] = {"escalation_level": level, "updated_at": utcnow(),
                              "extension_used_minutes": 60 if extended else 0,
                              "review_started_at": created + timedelta(minutes=hours)}
    if outcome in ("approved", "partial", "refunded"):
        fields.update(approved_at=then, approved_minor=5000 if outcome == "partial" else 10000)
    if outcome == "refunded":
        fields.update(refunded_at=then + timedelta(hours=hours))
    if outcome in ("rejected", "cancelled"):
        fields[f"{outcome}_at"] = then
    return case_row(merchants[who], created, currency=currency, **fields)


def _clear(owner_engine: Any) -> None:
    with owner_engine.begin() as conn:
        for model in (RefundStatsDay, RefundStatsMonth, StatsRollupState, RefundCase,
                      Transaction):
            conn.execute(delete(model))


@settings(max_examples=20, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(data=st.data())
async def test_the_rollup_always_equals_the_direct_computation(
        db: Database, world: World, owner_engine: Any, data: st.DataObject) -> None:
    # Given random cases of a Shanghai and a Berlin merchant, rolled up in two runs (the
    # second after new cases and changes to old ones)
    _clear(owner_engine)
    merchants = [world.merchant_a, await _merchant(db, world, owner_engine)]
    before = data.draw(st.lists(_case, max_size=15))
    await store(db, world, *(_row(merchants, s) for s in before))
    await _refresh(db, world)
    await store(db, world, *(_row(merchants, s) for s in data.draw(st.lists(_case, max_size=10))))
    with owner_engine.begin() as conn:
        ids = [r[0] for r in conn.execute(select(RefundCase.id))]
        for case_id in data.draw(st.lists(st.sampled_from(ids), max_size=3)) if ids else []:
            conn.execute(update(RefundCase).where(RefundCase.id == case_id).values(
                rejected_at=utcnow(), updated_at=utcnow()))
    await _refresh(db, world)
    # When any period and rollup-able grouping is read both ways, half the time one
    # from late February or early March to late March or early April (whole March, or
    # March less its first or last days, from the monthly level)
    minutes = WINDOW_HOURS * 60
    if data.draw(st.booleans()):
        start = WINDOW_START + timedelta(minutes=data.draw(st.integers(0, 15 * 24 * 60)))
        end = WINDOW_START + timedelta(minutes=data.draw(st.integers(36 * 24 * 60, minutes)))
    else:
        start = WINDOW_START + timedelta(minutes=data.draw(st.integers(0, minutes)))
        end = start + timedelta(minutes=data.draw(st.integers(1, minutes)))
    dims = tuple(data.draw(st.lists(st.sampled_from([D.MERCHANT, D.DAY, D.WEEK, D.MONTH]),
                                    max_size=2, unique=True)))
    scope = await operator(db, world)
    period = (start.isoformat(), end.isoformat())
    rolled = await stats(db, scope, *period, merchants=merchants, group_by=dims)
    direct = await stats(db, scope, *period, merchants=merchants, group_by=dims,
                         use_rollup=False)
    # Then they agree on every figure
    _same(direct, rolled)


async def _merchant(db: Database, world: World, owner_engine: Any) -> Any:
    from qrefund.tenants.models import Tenant

    with owner_engine.begin() as conn:
        found = conn.execute(select(Tenant.id).where(Tenant.slug == "berlin")).first()
    return found[0] if found else await add_merchant(db, world, "berlin", "Europe/Berlin")


