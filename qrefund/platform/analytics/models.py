"""The daily and monthly rollups of refund statistics and the job's watermark.

``refund_stats_days`` holds, per merchant, local day (the merchant's own time zone)
and currency, the additive figures of the refund cases *requested* that day (see
:data:`qrefund.platform.analytics.figures.ADDITIVE`). Sums of rows are exactly the
sums over the cases, so any set of whole days adds up from the rollup; medians and
percentiles do not add up and are always read from the cases themselves.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Column, Date, ForeignKeyConstraint, Index
from sqlmodel import Field, SQLModel

from qrefund.platform.refunds.models import RefundCase
from qrefund.platform.sqltypes import UTCDateTime, tenant_pk, timestamp
from qrefund.platform.sqltypes import created_at as now_column


def _count() -> int:
    return Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))  # type: ignore[no-any-return]


class RefundStatsDay(SQLModel, table=True):
    __tablename__ = "refund_stats_days"
    __table_args__ = (
        # The primary key (tenant_id, day, currency) serves the range scans of days.
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
    )

    tenant_id: uuid.UUID = tenant_pk()
    day: date = Field(sa_column=Column(Date, primary_key=True, nullable=False))
    currency: str = Field(primary_key=True, max_length=3)
    requested: int = _count()
    requested_minor: int = _count()
    approved: int = _count()
    approved_full: int = _count()
    approved_partial: int = _count()
    approved_minor: int = _count()
    rejected: int = _count()
    cancelled: int = _count()
    refunded: int = _count()
    refunded_minor: int = _count()
    review_decided: int = _count()
    review_on_time: int = _count()
    completion_done: int = _count()
    completion_on_time: int = _count()
    breached: int = _count()
    escalated: int = _count()
    extended: int = _count()
    computed_at: datetime = now_column()


def _sum() -> int:
    return Field(default=0, sa_type=BigInteger, nullable=False)  # type: ignore[no-any-return]


class RefundStatsMonth(SQLModel, table=True):
    """The monthly level above the days: per merchant, local month (its first day) and
    currency, the sums of that month's ``refund_stats_days`` rows. The rollup job
    rewrites a month in the same transaction as any of its days, so a year of whole
    months is ~12 rows a merchant instead of ~365 (bench/stats.py)."""

    __tablename__ = "refund_stats_months"
    __table_args__ = (ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),)

    tenant_id: uuid.UUID = tenant_pk()
    month: date = Field(sa_column=Column(Date, primary_key=True, nullable=False))
    currency: str = Field(primary_key=True, max_length=3)
    requested: int = _sum()
    requested_minor: int = _sum()
    approved: int = _sum()
    approved_full: int = _sum()
    approved_partial: int = _sum()
    approved_minor: int = _sum()
    rejected: int = _sum()
    cancelled: int = _sum()
    refunded: int = _sum()
    refunded_minor: int = _sum()
    review_decided: int = _sum()
    review_on_time: int = _sum()
    completion_done: int = _sum()
    completion_on_time: int = _sum()
    breached: int = _sum()
    escalated: int = _sum()
    extended: int = _sum()
    computed_at: datetime = now_column()


class StatsRollupState(SQLModel, table=True):
    """One row per rollup (not tenant data): how far the job has read the changes."""

    __tablename__ = "stats_rollup_state"

    name: str = Field(primary_key=True, max_length=32)
    # Cases changed at or after this instant (less a margin) are looked at next run.
    watermark: datetime = Field(sa_type=UTCDateTime, nullable=False)
    last_run_at: datetime | None = timestamp()
    days_recomputed: int = 0
    updated_at: datetime = now_column()


# refundStats' whole days beside the months (a few days of many merchants): by day first
# it is a short range; the primary key, by merchant first, was a sequential scan of the
# 350,000 rows of an agency's year (bench/stats.py's EXPLAIN: 100-150 ms each). 0024.
Index("ix_refund_stats_days_day", RefundStatsDay.__table__.c.day,  # type: ignore[attr-defined]
      RefundStatsDay.__table__.c.tenant_id)  # type: ignore[attr-defined]
# The rollup job's look-up of cases changed since its last run, across tenants. It sits
# on refund_cases but is declared here, next to the query that reads it (migration 0019).
_cases = RefundCase.__table__.c  # type: ignore[attr-defined]
Index("ix_refund_cases_updated", _cases.updated_at)
# refundStats' partial edge days: the cases of many merchants within a few hours. Read
# per merchant through (tenant_id, created_at) the planner preferred a sequential scan
# (bench/stats.py's EXPLAIN: 200-300 ms each); by time first it is a short range.
Index("ix_refund_cases_created_at", _cases.created_at, _cases.tenant_id)
