"""Deadlines at risk and outbox lag, for the metrics endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from qrefund.platform.clock import utcnow
from qrefund.platform.db import UnitOfWork
from qrefund.platform.monitoring.repository import DeadlineRiskRepository, OutboxLagRepository


@dataclass(frozen=True)
class Snapshot:
    # (subject type, kind, state, tier) -> timers
    deadlines: dict[tuple[str, str, str, str], int]
    outbox_lag_seconds: float
    outbox_unrelayed: int


async def snapshot(uow: UnitOfWork, now: datetime | None = None) -> Snapshot:
    """Needs a system scope (every tenant): the figures are the deployment's."""
    now = now or utcnow()
    rows = await DeadlineRiskRepository(uow).at_risk(now)
    deadlines = {(str(r[0]), str(r[1]), str(r[2]), str(r[3])): int(r[4]) for r in rows}
    oldest, waiting = await OutboxLagRepository(uow).unrelayed()
    lag = max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0
    return Snapshot(deadlines, lag, waiting)
