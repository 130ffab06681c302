"""refundStats: figures over refund cases and complaint tickets, computed in SQL.

Plan: the cases of the period are summed by the database, grouped as asked. When
the rollup can answer (it has run, the period covers more than
:data:`DIRECT_MAX_MERCHANTS` merchants, the grouping is by merchant and/or calendar
only, and days are the merchants' own), the whole local days inside the period are
read from the rollup and only the partial days at its edges from the cases. Of those
whole days, whole months come from the monthly level when the grouping is by
``MERCHANT``/``MONTH`` only (:func:`_month_plan`); medians and p90 (which do not add
up) always come from the cases.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from qrefund.platform.analytics.figures import (
    MONTHLY_DIMENSIONS,
    ROLLUP_DIMENSIONS,
    ComplaintFigures,
    Dimension,
    Figures,
    Percentiles,
    StatsResult,
)
from qrefund.platform.analytics.repository import (
    ComplaintStatsRepository,
    MerchantRepository,
    RefundStatsRepository,
    RollupStateRepository,
    Row,
    Slice,
    Zones,
    next_month,
)
from qrefund.platform.analytics.request import MAX_GROUPS, StatsQuery
from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import CommonError, InvalidInput, NotFound
from qrefund.platform.roles import Permission

ROLLUP = "refund_stats_days"
_MARGIN = timedelta(days=1)  # local days reach up to 14 h either side of UTC
# One merchant's period is read from its cases (a short range of the (tenant_id,
# created_at) index: ~730 cases a year in bench/stats.py) in one statement, which
# measured as fast as or faster than the rollup's three to five; from two merchants
# on, the rollup reads fewer rows.
DIRECT_MAX_MERCHANTS = 1


async def refund_stats(uow: UnitOfWork, query: StatsQuery) -> StatsResult:
    """The figures of ``query`` (raises NOT_FOUND for a merchant out of scope)."""
    uow.scope.require(Permission.READ)
    merchants = await MerchantRepository(uow).merchants(query.merchant_ids)
    if query.merchant_ids is not None and len(merchants) != len(query.merchant_ids):
        raise NotFound("merchant not found", field=["merchantIds"])
    result = StatsResult(query.group_by, Figures(), {}, ComplaintFigures())
    if not merchants:
        return result
    everyone = Slice(tuple(sorted(merchants)), query.start, query.end)
    zones = Zones(query.timezone, tuple(sorted(set(merchants.values()))),
                  (query.start - _MARGIN, query.end + _MARGIN))
    repo = RefundStatsRepository(uow)
    rows: list[Row] = []
    if len(merchants) > DIRECT_MAX_MERCHANTS and await _rollup_applies(uow, query):
        slices: list[Slice] = []
        for zone, ids in _by_zone(merchants).items():
            first, last = _whole_days(query.start, query.end, zone)
            if first >= last:
                slices.append(Slice(ids, query.start, query.end))
                continue
            rows += await _whole_days_rows(repo, ids, first, last, query.group_by)
            slices += [Slice(ids, query.start, midnight(first, zone)),
                       Slice(ids, midnight(last, zone), query.end)]
            result.source = "rollup"
        slices = [s for s in slices if s.start < s.end]
    else:
        slices = [everyone]
    if slices:
        rows += await repo.sums(slices, query.group_by, zones, MAX_GROUPS)
    _merge(result, rows)
    if query.durations:
        # Percentiles do not add up: the total's and each group's are computed apart.
        for dims in ((), query.group_by) if query.group_by else ((),):
            found = await repo.durations([everyone], dims, zones, MAX_GROUPS)
            for key, values in found.items():
                figures = result.groups.setdefault(key, Figures()) if dims else result.total
                figures.durations = {name: Percentiles(_num(a), _num(b))
                                     for name, (a, b) in values.items()}
    result.complaints = await _complaints(uow, [everyone])
    return result


async def _rollup_applies(uow: UnitOfWork, query: StatsQuery) -> bool:
    if not query.use_rollup or query.timezone is not None:
        return False
    if not set(query.group_by) <= ROLLUP_DIMENSIONS:
        return False
    return await RollupStateRepository(uow).state(ROLLUP) is not None


def _by_zone(merchants: dict[uuid.UUID, str]) -> dict[str, tuple[uuid.UUID, ...]]:
    zones: dict[str, list[uuid.UUID]] = defaultdict(list)
    for merchant, zone in sorted(merchants.items()):
        zones[zone].append(merchant)
    return {zone: tuple(ids) for zone, ids in zones.items()}


def midnight(day: date, zone: str) -> datetime:
    return datetime.combine(day, time(0), ZoneInfo(zone)).astimezone(UTC)


def _whole_days(start: datetime, end: datetime, zone: str) -> tuple[date, date]:
    """The local days lying wholly inside [start, end): ``first`` to ``last`` (exclusive)."""
    first = start.astimezone(ZoneInfo(zone)).date()
    if midnight(first, zone) < start:
        first += timedelta(days=1)
    last = end.astimezone(ZoneInfo(zone)).date()
    return first, last


async def _whole_days_rows(repo: RefundStatsRepository, ids: tuple[uuid.UUID, ...],
                           first: date, last: date, dims: Sequence[Dimension]) -> list[Row]:
    """The rollup's figures of the local days ``first`` to ``last`` (exclusive)."""
    plan = _month_plan(first, last) if set(dims) <= MONTHLY_DIMENSIONS else None
    if plan is None:
        return await repo.rollup_sums(ids, [(first, last)], dims, MAX_GROUPS)
    months, added, taken = plan
    rows = await repo.rollup_sums(ids, [months], dims, MAX_GROUPS, monthly=True)
    if added:
        rows += await repo.rollup_sums(ids, added, dims, MAX_GROUPS)
    if taken:  # sums add up, so they also subtract: a month less its first days
        rows += [(key, currency, {k: -v for k, v in sums.items()}) for key, currency, sums
                 in await repo.rollup_sums(ids, taken, dims, MAX_GROUPS)]
    return rows


Span = tuple[date, date]


def _month_plan(first: date, last: date) -> tuple[Span, list[Span], list[Span]] | None:
    """How to read the days ``[first, last)`` with the fewest rows: the months
    ``[lo, hi)`` (first days), plus the days ``added``, less the days ``taken``.

    Each edge goes to the nearer month boundary: a period from the 3rd reads the whole
    month less two days; one from the 25th reads the days to the month's end. None when
    reading days only is no more rows (a merchant has one row per month or day)."""
    lo = first.replace(day=1)
    if (first - lo).days * 2 > (next_month(first) - lo).days:
        lo = next_month(first)
    hi = last.replace(day=1)
    if (last - hi).days * 2 > (next_month(hi) - hi).days:
        hi = next_month(hi)
    if lo >= hi:
        return None
    added = [(a, b) for a, b in ((first, lo), (hi, last)) if a < b]
    taken = [(a, b) for a, b in ((lo, first), (last, hi)) if a < b]
    months = (hi.year - lo.year) * 12 + hi.month - lo.month
    if months + sum((b - a).days for a, b in added + taken) >= (last - first).days:
        return None
    return (lo, hi), added, taken


def _merge(result: StatsResult, rows: Sequence[Row]) -> None:
    for key, currency, sums in rows:
        result.total.add(currency, sums)
        if result.dimensions:
            result.groups.setdefault(key, Figures()).add(currency, sums)
    # A month less its edge days can leave a group or currency with nothing in the
    # period: drop it, as the cases would not have it (every case requests an amount).
    _prune(result.total)
    for key in [k for k, f in result.groups.items() if not f.counts["requested"]]:
        del result.groups[key]
    for figures in result.groups.values():
        _prune(figures)
    if len(result.groups) > MAX_GROUPS:
        raise InvalidInput(f"more than {MAX_GROUPS} groups: narrow the period or groupBy",
                           field=["groupBy"], code=CommonError.TOO_MANY)


def _prune(figures: Figures) -> None:
    for currency in [c for c, sums in figures.amounts.items() if not any(sums.values())]:
        del figures.amounts[currency]


def _num(value: object) -> float | None:
    return None if value is None else round(float(value), 3)  # type: ignore[arg-type]


async def _complaints(uow: UnitOfWork, slices: list[Slice]) -> ComplaintFigures:
    repo = ComplaintStatsRepository(uow)
    sums = await repo.sums(slices)
    return ComplaintFigures(ratings=await repo.ratings(slices), **sums)


