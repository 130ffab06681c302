"""refundStats' arguments, checked and normalised before any SQL runs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from qrefund.platform import validation
from qrefund.platform.analytics.figures import Dimension
from qrefund.platform.errors import CommonError, InvalidInput

MAX_SPAN = timedelta(days=366)  # a leap year
MAX_MERCHANTS = 1000
MAX_DIMENSIONS = 3
MAX_GROUPS = 5000  # more groups than a client can show: ask for a narrower breakdown


@dataclass(frozen=True)
class StatsQuery:
    merchant_ids: tuple[uuid.UUID, ...] | None  # None: every merchant in scope
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive
    group_by: tuple[Dimension, ...] = ()
    timezone: str | None = None  # None: each merchant's own
    durations: bool = True  # medians and p90 (read from the cases, never the rollup)
    use_rollup: bool = True  # False: always compute from the cases


def stats_query(*, merchant_ids: Sequence[uuid.UUID] | None, start: datetime, end: datetime,
                group_by: Sequence[Dimension] | None = None, timezone: str | None = None,
                durations: bool = True, use_rollup: bool = True) -> StatsQuery:
    """The normalised query, or :class:`InvalidInput` naming the argument at fault."""
    start = validation.normalized_datetime(start, ["from"])
    end = validation.normalized_datetime(end, ["to"])
    if end <= start:
        raise InvalidInput("to must be after from", field=["to"],
                           code=CommonError.INVALID_DATETIME)
    if end - start > MAX_SPAN:
        raise InvalidInput(f"from..to spans at most {MAX_SPAN.days} days", field=["to"],
                           code=CommonError.OUT_OF_RANGE)
    dims = tuple(group_by or ())
    if len(dims) > MAX_DIMENSIONS:
        raise InvalidInput(f"groupBy takes at most {MAX_DIMENSIONS} dimensions",
                           field=["groupBy"], code=CommonError.TOO_MANY)
    if len(set(dims)) != len(dims):
        raise InvalidInput("groupBy names a dimension twice", field=["groupBy"],
                           code=CommonError.INVALID_INPUT)
    ids: tuple[uuid.UUID, ...] | None = None
    if merchant_ids:  # an empty list, like none, means every merchant in scope
        if len(merchant_ids) > MAX_MERCHANTS:
            raise InvalidInput(f"at most {MAX_MERCHANTS} merchantIds", field=["merchantIds"],
                               code=CommonError.TOO_MANY)
        ids = tuple(sorted(set(merchant_ids)))
    zone = validation.timezone(timezone) if timezone is not None else None
    return StatsQuery(ids, start, end, dims, zone, durations, use_rollup)
