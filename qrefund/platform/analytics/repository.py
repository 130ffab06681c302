"""All SQL of refund statistics: aggregates over refund cases and complaint tickets, the
daily rollup's reads and its recomputation.

Every figure is an aggregate computed by the database (no case row reaches Python).
Local days: PostgreSQL converts with ``AT TIME ZONE`` (the merchant's zone, joined
from ``tenants``, or the caller's); SQLite, which has no zone data, gets each zone's
UTC offsets over the span as a ``CASE`` (:mod:`.localtime`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Date,
    Float,
    Integer,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY

from qrefund.platform.analytics.figures import ADDITIVE, AMOUNTS, DURATIONS, Dimension
from qrefund.platform.analytics.localtime import offsets
from qrefund.platform.analytics.models import (
    RefundStatsDay,
    RefundStatsMonth,
    StatsRollupState,
)
from qrefund.platform.clock import as_utc
from qrefund.platform.complaints.models import ComplaintTicket
from qrefund.platform.refunds.models import RefundCase
from qrefund.platform.repository import SCOPED_OPTION, TenantRepository
from qrefund.platform.sqltypes import UTCDateTime
from qrefund.platform.transactions.models import Transaction
from qrefund.tenants.models import Tenant

CASES: Any = RefundCase.__table__  # type: ignore[attr-defined]
TXNS: Any = Transaction.__table__  # type: ignore[attr-defined]
TENANTS: Any = Tenant.__table__  # type: ignore[attr-defined]
DAY_ROWS: Any = RefundStatsDay.__table__  # type: ignore[attr-defined]
MONTH_ROWS: Any = RefundStatsMonth.__table__  # type: ignore[attr-defined]
RC, TX, TN = CASES.c, TXNS.c, TENANTS.c
CT = ComplaintTicket.__table__.c  # type: ignore[attr-defined]
DAYS, MONTHS = DAY_ROWS.c, MONTH_ROWS.c
MERCHANT = "MERCHANT"
_PLAN_FOR_ROLLUP = ("SELECT set_config('enable_sort', 'off', true), "
                    "set_config('plan_cache_mode', 'force_custom_plan', true)")
_PLAN_DEFAULT = ("SELECT set_config('enable_sort', 'on', true), "
                 "set_config('plan_cache_mode', 'auto', true)")


@dataclass(frozen=True)
class Slice:
    """Cases of these merchants requested in [start, end) (UTC)."""

    merchant_ids: tuple[uuid.UUID, ...]
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Zones:
    """Where local time comes from: one zone for everyone (``override``) or each
    merchant's own (``names``: the zones present, for SQLite's offset tables), over
    ``span`` (UTC)."""

    override: str | None
    names: tuple[str, ...]
    span: tuple[datetime, datetime]


# -- expressions -------------------------------------------------------------------------


def _flag(condition: Any) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _additive() -> list[Any]:
    approved, decided = RC.approved_at.is_not(None), func.coalesce(RC.approved_at, RC.rejected_at)
    exprs = {
        "requested": func.count(),
        "approved": _flag(approved),
        "approved_full": _flag(and_(approved, RC.approved_minor >= RC.requested_minor)),
        "approved_partial": _flag(and_(approved, RC.approved_minor < RC.requested_minor)),
        "rejected": _flag(RC.rejected_at.is_not(None)),
        "cancelled": _flag(RC.cancelled_at.is_not(None)),
        "refunded": _flag(RC.refunded_at.is_not(None)),
        "review_decided": _flag(decided.is_not(None)),
        "review_on_time": _flag(decided <= RC.review_due_at),
        "completion_done": _flag(RC.refunded_at.is_not(None)),
        "completion_on_time": _flag(RC.refunded_at <= RC.completion_due_at),
        "breached": _flag(RC.escalation_level >= 1),
        "escalated": _flag(RC.escalation_level >= 2),
        "extended": _flag(RC.extension_used_minutes > 0),
        "requested_minor": func.sum(RC.requested_minor),
        "approved_minor": func.sum(case((approved, RC.approved_minor), else_=0)),
        "refunded_minor": func.sum(case((RC.refunded_at.is_not(None), RC.approved_minor),
                                        else_=0)),
    }
    return [exprs[name].label(name) for name in (*ADDITIVE, *AMOUNTS)]


def _seconds(later: Any, earlier: Any, sqlite: bool) -> Any:
    if sqlite:
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return cast(func.extract("epoch", later - earlier), Float)


def _duration(name: str, sqlite: bool) -> Any:
    later = {"first_response": RC.review_started_at,
             "decision": func.coalesce(RC.approved_at, RC.rejected_at),
             "money_back": RC.refunded_at}[name]
    return _seconds(later, RC.created_at, sqlite)


def _sqlite_offset(column: Any, zones: Zones) -> Any:
    """Seconds east of UTC at ``column`` in the zone of each row (SQLite)."""

    def one(zone: str) -> Any:
        table = offsets(zone, *zones.span)
        if not table.changes:
            return literal(table.first)
        whens, previous = [], table.first
        for instant, offset in table.changes:
            whens.append((column < literal(instant, UTCDateTime), previous))
            previous = offset
        return case(*whens, else_=previous)

    if zones.override is not None:
        return one(zones.override)
    return case(*((TN.timezone == z, one(z)) for z in zones.names), else_=0)


def _local_date(column: Any, unit: str, zones: Zones, sqlite: bool) -> Any:
    """The local calendar day (or its week's Monday, or its month's first day)."""
    if sqlite:
        modifier = func.printf("%+d seconds", _sqlite_offset(column, zones))
        extra = {"day": (), "week": ("-6 days", "weekday 1"), "month": ("start of month",)}
        return func.date(column, modifier, *extra[unit])
    zone = literal(zones.override) if zones.override is not None else TN.timezone
    local = func.timezone(zone, column)
    return cast(local if unit == "day" else func.date_trunc(unit, local), Date)


def _dimension(dim: Dimension, zones: Zones, sqlite: bool) -> Any:
    plain = {Dimension.REASON: RC.reason, Dimension.REQUEST_CHANNEL: RC.channel,
             Dimension.METHOD: RC.method, Dimension.PAYMENT_CHANNEL: TX.channel,
             Dimension.MERCHANT: RC.tenant_id, Dimension.STORE: TX.store_id,
             Dimension.TERMINAL: TX.terminal_id, Dimension.STAFF: RC.assignee}
    if dim in plain:
        return plain[dim]
    return _local_date(RC.created_at, dim.value.lower(), zones, sqlite)


def _month_of(day: Any, sqlite: bool) -> Any:
    if sqlite:
        return func.date(day, "start of month")
    return cast(func.date_trunc("month", day), Date)


def _rollup_dimension(dim: Dimension, sqlite: bool, monthly: bool) -> Any:
    if monthly:  # the monthly level answers MERCHANT and MONTH only
        return {Dimension.MERCHANT: MONTHS.tenant_id, Dimension.MONTH: MONTHS.month}[dim]
    if dim == Dimension.MERCHANT:
        return DAYS.tenant_id
    if dim == Dimension.DAY:
        return DAYS.day
    if dim == Dimension.MONTH:
        return _month_of(DAYS.day, sqlite)
    if sqlite:
        return func.date(DAYS.day, "-6 days", "weekday 1")
    return cast(func.date_trunc("week", DAYS.day), Date)


def _ranges(column: Any, ranges: Sequence[tuple[date, date]]) -> Any:
    return or_(*(and_(column >= lo, column < hi) for lo, hi in ranges))


def tenant_in(column: Any, ids: Sequence[uuid.UUID], sqlite: bool) -> Any:
    """``column IN ids``: one array parameter on PostgreSQL (cheap to plan for 1,000)."""
    if sqlite:
        return column.in_(list(ids))
    return column == func.any(literal(list(ids), ARRAY(RC.tenant_id.type)))


def _slices(slices: Sequence[Slice], created: Any, tenant: Any, sqlite: bool) -> Any:
    return or_(*(and_(tenant_in(tenant, s.merchant_ids, sqlite), created >= s.start,
                      created < s.end) for s in slices))


def _label(value: Any) -> str | None:
    """A group key part as text: dates as YYYY-MM-DD (both backends), ids, enum values."""
    return None if value is None else str(value)


Row = tuple[tuple[str | None, ...], str, dict[str, int]]  # group key, currency, sums


class MerchantRepository(TenantRepository[Tenant]):
    model = Tenant
    tenant_column = "id"

    async def merchants(self, ids: Sequence[uuid.UUID] | None) -> dict[uuid.UUID, str]:
        """Merchants in scope (of ``ids``, or all) and their time zones."""
        where = [TN.kind == MERCHANT]
        if ids is not None:
            where.append(tenant_in(TN.id, ids, self.uow.is_sqlite))
        rows = await self.rows(self.select_columns(TN.id, TN.timezone, where=where))
        return {row.id: row.timezone for row in rows}


class RefundStatsRepository(TenantRepository[RefundCase]):
    model = RefundCase

    @property
    def sqlite(self) -> bool:
        return self.uow.is_sqlite

    def _from(self, dims: Sequence[Dimension], zones: Zones) -> Any:
        joined: Any = CASES
        if {Dimension.PAYMENT_CHANNEL, Dimension.STORE, Dimension.TERMINAL} & set(dims):
            joined = joined.join(TXNS, and_(
                TX.tenant_id == RC.tenant_id, TX.id == RC.transaction_id))
        local = {Dimension.DAY, Dimension.WEEK, Dimension.MONTH} & set(dims)
        if local and zones.override is None:
            joined = joined.join(TENANTS, TN.id == RC.tenant_id)
        return joined

    async def sums(self, slices: Sequence[Slice], dims: Sequence[Dimension], zones: Zones,
                   limit: int) -> list[Row]:
        """The additive figures of the cases in ``slices`` by group and currency (at most
        ``limit`` + 1 rows: one more says there are too many groups)."""
        keys = [_dimension(d, zones, self.sqlite).label(f"g{i}") for i, d in enumerate(dims)]
        found: list[Row] = []
        # One statement per slice: each is a range scan of (tenant_id, created_at), which
        # an OR of slices would turn into a scan of the merchants' every case.
        for piece in slices:
            stmt = (select(*keys, RC.currency, *_additive())
                    .select_from(self._from(dims, zones))
                    .where(_slices([piece], RC.created_at, RC.tenant_id, self.sqlite))
                    .group_by(*(k.element for k in keys), RC.currency).limit(limit + 1))
            found += [_row(r, len(keys)) for r in await self.rows(self.scoped(stmt,
                                                                             RC.tenant_id))]
        return found

    async def durations(self, slices: Sequence[Slice], dims: Sequence[Dimension],
                        zones: Zones, limit: int) -> dict[tuple[str | None, ...],
                                                          dict[str, tuple[Any, Any]]]:
        """Median and p90 of each duration, by group (percentile_cont on PostgreSQL; the
        same interpolation written with window functions on SQLite)."""
        keys = [_dimension(d, zones, self.sqlite).label(f"g{i}") for i, d in enumerate(dims)]
        where = _slices(slices, RC.created_at, RC.tenant_id, self.sqlite)
        found: dict[tuple[str | None, ...], dict[str, tuple[Any, Any]]] = {}
        if not self.sqlite:
            cols = [func.percentile_cont(p).within_group(_duration(name, False)).label(
                f"{name}_{tag}") for name in DURATIONS for p, tag in ((0.5, "p50"), (0.9, "p90"))]
            stmt = (select(*keys, *cols).select_from(self._from(dims, zones)).where(where)
                    .group_by(*(k.element for k in keys)).limit(limit + 1))
            for r in await self.rows(self.scoped(stmt, RC.tenant_id)):
                m = r._mapping
                found[tuple(_label(v) for v in r[:len(keys)])] = {
                    name: (m[f"{name}_p50"], m[f"{name}_p90"]) for name in DURATIONS}
            return found
        for name in DURATIONS:
            stmt = self._portable_percentiles(name, keys, dims, zones, where)
            for r in await self.rows(stmt.limit(limit + 1)):
                key = tuple(_label(v) for v in r[:len(keys)])
                found.setdefault(key, {n: (None, None) for n in DURATIONS})[name] = (
                    r.p50, r.p90)
        return found

    def _portable_percentiles(self, name: str, keys: list[Any], dims: Sequence[Dimension],
                              zones: Zones, where: Any) -> Any:
        value = _duration(name, True)
        # The scope goes on the innermost SELECT, the one reading refund_cases.
        inner = self.scoped(select(*keys, value.label("x")).select_from(self._from(dims, zones))
                            .where(where, value.is_not(None)), RC.tenant_id).subquery()
        groups = [inner.c[f"g{i}"] for i in range(len(keys))]
        ranked = select(*groups, inner.c.x,
                        (func.row_number().over(partition_by=groups or None,
                                                order_by=inner.c.x) - 1).label("i"),
                        func.count().over(partition_by=groups or None).label("n")).subquery()
        rg = [ranked.c[f"g{i}"] for i in range(len(keys))]

        def percentile(p: float) -> Any:
            position = p * (ranked.c.n - 1)
            low = cast(position, Integer)
            below = func.max(case((ranked.c.i == low, ranked.c.x)))
            above = func.max(case((ranked.c.i == low + 1, ranked.c.x)))
            fraction = func.max(position - low)
            return below + cast(fraction, Float) * (func.coalesce(above, below) - below)

        return (select(*rg, percentile(0.5).label("p50"), percentile(0.9).label("p90"))
                .group_by(*rg).execution_options(**{SCOPED_OPTION: True}))

    # -- the rollup ---------------------------------------------------------------------

    async def rollup_sums(self, merchant_ids: Sequence[uuid.UUID],
                          ranges: Sequence[tuple[date, date]], dims: Sequence[Dimension],
                          limit: int, *, monthly: bool = False) -> list[Row]:
        """The rollup's figures of the days (or, ``monthly``, the months: first days)
        in ``ranges`` (each ``[lo, hi)``), by group."""
        table, cols = (MONTH_ROWS, MONTHS) if monthly else (DAY_ROWS, DAYS)
        when = cols.month if monthly else cols.day
        keys = [_rollup_dimension(d, self.sqlite, monthly).label(f"g{i}")
                for i, d in enumerate(dims)]
        sums = [func.sum(cols[name]).label(name) for name in (*ADDITIVE, *AMOUNTS)]
        stmt = (select(*keys, cols.currency, *sums).select_from(table)
                .where(tenant_in(cols.tenant_id, merchant_ids, self.sqlite),
                       _ranges(when, ranges))
                .group_by(*(k.element for k in keys), cols.currency).limit(limit + 1))
        if self.sqlite:
            rows = await self.rows(self.scoped(stmt, cols.tenant_id))
            return [_row(r, len(keys)) for r in rows]
        # The planner multiplies the selectivities of the scope, the merchants and the
        # row-level security and expects a few thousand of the 350,000 rows of an agency's
        # year, so it sorts them (spilling 47 MB to disk, bench/stats.py) where hashing
        # them into the few groups is what fits: no sort for this one statement. Nor a
        # generic plan (psycopg prepares a statement run often): blind to the range, it
        # read a whole year through ix_refund_stats_days_day (6 s instead of 0.5 s).
        await self.execute(text(_PLAN_FOR_ROLLUP))
        try:
            rows = await self.rows(self.scoped(stmt, cols.tenant_id))
        finally:
            await self.execute(text(_PLAN_DEFAULT))
        return [_row(r, len(keys)) for r in rows]

    async def touched_days(self, since: datetime, zones: Zones) -> dict[uuid.UUID, set[date]]:
        """The (merchant, local day) of every case changed at or after ``since``."""
        day = _local_date(RC.created_at, "day", zones, self.sqlite).label("day")
        stmt = (select(RC.tenant_id, day).distinct()
                .select_from(CASES.join(TENANTS,
                                                       TN.id == RC.tenant_id))
                .where(RC.updated_at >= since))
        found: dict[uuid.UUID, set[date]] = {}
        for row in await self.rows(self.scoped(stmt, RC.tenant_id)):
            found.setdefault(row.tenant_id, set()).add(_as_date(row.day))
        return found

    async def changed_span(self, since: datetime) -> tuple[datetime | None, datetime | None]:
        """When the earliest and latest of the cases changed since ``since`` were requested."""
        stmt = select(func.min(RC.created_at), func.max(RC.created_at)).where(
            RC.updated_at >= since)
        row: Any = (await self.rows(self.scoped(stmt, RC.tenant_id)))[0]
        return _utc(row[0]), _utc(row[1])

    async def recompute(self, tenant_id: uuid.UUID, days: Sequence[date], window: Slice,
                        zones: Zones, now: datetime) -> None:
        """Replaces the merchant's rollup rows of ``days`` with sums over its cases
        (``window``: a UTC range holding every case of those days)."""
        ids = [tenant_id]
        await self.execute(self.scoped(delete(DAY_ROWS).where(
            DAYS.tenant_id == tenant_id, DAYS.day.in_(list(days))), DAYS.tenant_id
        ).execution_options(synchronize_session=False))
        day = _local_date(RC.created_at, "day", zones, self.sqlite)
        source = (select(RC.tenant_id, day, RC.currency, *_additive(),
                         literal(now, UTCDateTime))
                  .select_from(CASES.join(TENANTS,
                                                         TN.id == RC.tenant_id))
                  .where(_slices([Slice(tuple(ids), window.start, window.end)], RC.created_at,
                                 RC.tenant_id, self.sqlite), day.in_(list(days)))
                  .group_by(RC.tenant_id, day, RC.currency))
        columns = ["tenant_id", "day", "currency", *ADDITIVE, *AMOUNTS, "computed_at"]
        # An INSERT has no WHERE to scope: its SELECT carries the scope.
        await self.execute(insert(RefundStatsDay).from_select(
            columns, self.scoped(source, RC.tenant_id)).execution_options(
                **{SCOPED_OPTION: True}))


    async def recompute_months(self, tenant_id: uuid.UUID, months: Sequence[date],
                               now: datetime) -> None:
        """Replaces the merchant's monthly rows of ``months`` (first days) with the sums of
        their daily rows (run after those days were recomputed, in the same unit)."""
        await self.execute(self.scoped(delete(MONTH_ROWS).where(
            MONTHS.tenant_id == tenant_id, MONTHS.month.in_(list(months))), MONTHS.tenant_id
        ).execution_options(synchronize_session=False))
        month = _month_of(DAYS.day, self.sqlite)
        spans = [(m, next_month(m)) for m in months]
        source = (select(DAYS.tenant_id, month, DAYS.currency,
                         *(func.sum(DAYS[name]) for name in (*ADDITIVE, *AMOUNTS)),
                         literal(now, UTCDateTime))
                  .where(DAYS.tenant_id == tenant_id, _ranges(DAYS.day, spans))
                  .group_by(DAYS.tenant_id, month, DAYS.currency))
        columns = ["tenant_id", "month", "currency", *ADDITIVE, *AMOUNTS, "computed_at"]
        await self.execute(insert(RefundStatsMonth).from_select(
            columns, self.scoped(source, DAYS.tenant_id)).execution_options(
                **{SCOPED_OPTION: True}))

class RollupStateRepository(TenantRepository[RefundStatsDay]):
    """The rollup's watermark (one row, not tenant data) and whether it has ever run."""

    model = RefundStatsDay

    async def state(self, name: str) -> StatsRollupState | None:
        stmt = select(StatsRollupState).where(StatsRollupState.name == name)  # type: ignore[arg-type]
        found: StatsRollupState | None = (await self.execute(stmt)).scalars().first()
        return found

    def save(self, state: StatsRollupState) -> None:
        self.uow._add(state)


class ComplaintStatsRepository(TenantRepository[ComplaintTicket]):
    model = ComplaintTicket

    async def sums(self, slices: Sequence[Slice]) -> dict[str, Any]:
        sqlite = self.uow.is_sqlite
        stmt = select(
            func.count().label("opened"),
            _flag(CT.first_responded_at.is_not(None)).label("first_responded"),
            _flag(CT.first_responded_at <= CT.first_response_due_at).label(
                "first_response_on_time"),
            _flag(CT.resolved_at.is_not(None)).label("resolved"),
            _flag(CT.resolved_at <= CT.resolution_due_at).label("resolved_on_time"),
            func.count(CT.rating).label("rated"),
            func.sum(CT.rating).label("rating_sum"),
            _flag(CT.repeat_of_id.is_not(None)).label("repeats"),
        ).where(_slices(slices, CT.created_at, CT.tenant_id, sqlite))
        row: Any = (await self.rows(self.scoped(stmt, CT.tenant_id)))[0]
        return {k: int(v or 0) for k, v in row._mapping.items()}

    async def ratings(self, slices: Sequence[Slice]) -> dict[int, int]:
        stmt = (select(CT.rating, func.count()).where(
            _slices(slices, CT.created_at, CT.tenant_id, self.uow.is_sqlite),
            CT.rating.is_not(None)).group_by(CT.rating))
        rows: Sequence[Any] = await self.rows(self.scoped(stmt, CT.tenant_id))
        return {int(r[0]): int(r[1]) for r in rows}


def _row(r: Any, width: int) -> Row:
    m = r._mapping
    return (tuple(_label(v) for v in r[:width]), r.currency,
            {name: int(m[name] or 0) for name in (*ADDITIVE, *AMOUNTS)})


def next_month(day: date) -> date:
    """The first day of the month after ``day``'s."""
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)
