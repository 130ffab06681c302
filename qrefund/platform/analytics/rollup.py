"""The daily rollup, kept up to date incrementally.

Each run looks at the refund cases changed since the last run's start (their
``updated_at``, less :data:`MARGIN` for units that stamped a case before that start but
committed after it), finds the (merchant, local day) each of them was requested on,
and recomputes exactly those rollup rows from the cases, then the monthly rows of their
months from the daily rows (``refund_stats_months``). A first run (no watermark)
recomputes every day. The watermark moves in the same transaction as the rows (days
and months), so a failed run changes nothing and the next one starts from the same
place.

A merchant that changes its time zone keeps its old days until they are recomputed:
run :func:`refresh` with ``full=True`` (the job ``refund_stats_rollup(full=True)``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from qrefund.platform.analytics.models import StatsRollupState
from qrefund.platform.analytics.repository import (
    MerchantRepository,
    RefundStatsRepository,
    RollupStateRepository,
    Slice,
    Zones,
)
from qrefund.platform.analytics.service import ROLLUP, midnight
from qrefund.platform.clock import utcnow
from qrefund.platform.db import UnitOfWork

MARGIN = timedelta(minutes=5)
_BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class RollupRun:
    merchants: int
    days: int
    watermark: datetime


async def refresh(uow: UnitOfWork, *, now: datetime | None = None, full: bool = False
                  ) -> RollupRun:
    """Recompute the rollup rows of the days touched since the last run (all: ``full``)."""
    now = now or utcnow()
    states = RollupStateRepository(uow)
    state = await states.state(ROLLUP)
    since = _BEGINNING if state is None or full else state.watermark - MARGIN
    repo = RefundStatsRepository(uow)
    earliest, latest = await repo.changed_span(since)
    touched: dict[uuid.UUID, set[date]] = {}
    if earliest is not None and latest is not None:
        merchants = await MerchantRepository(uow).merchants(None)
        zones = Zones(None, tuple(sorted(set(merchants.values()))),
                      (earliest - timedelta(days=2), latest + timedelta(days=2)))
        touched = await repo.touched_days(since, zones)
        for tenant_id, days in sorted(touched.items()):
            zone = merchants.get(tenant_id, "UTC")
            window = Slice((tenant_id,), midnight(min(days), zone),
                           midnight(max(days) + timedelta(days=1), zone))
            await repo.recompute(tenant_id, sorted(days), window, zones, now)
            # The months above those days, from the day rows just written: same unit.
            await repo.recompute_months(tenant_id, sorted({d.replace(day=1) for d in days}),
                                        now)
    state = state or StatsRollupState(name=ROLLUP, watermark=now)
    state.watermark, state.last_run_at, state.updated_at = now, now, now
    state.days_recomputed = sum(len(d) for d in touched.values())
    states.save(state)
    return RollupRun(len(touched), state.days_recomputed, now)


__all__ = ["MARGIN", "RollupRun", "refresh"]
