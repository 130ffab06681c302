"""refundStats(merchantIds, from, to, groupBy, timezone)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.analytics.types import (
    ComplaintStats,
    RefundStats,
    RefundStatsGroup,
    StatsDimension,
    StatsSource,
    figure_fields,
    group_key,
)
from qrefund.graphql_schema.context import Info
from qrefund.graphql_schema.errors import query_error
from qrefund.platform.analytics import service
from qrefund.platform.analytics.figures import Dimension
from qrefund.platform.analytics.request import stats_query
from qrefund.platform.errors import DomainError


def _wants_durations(selections: Any) -> bool:
    """Whether any timeTo* field is selected (medians cost a pass over the cases)."""
    for node in selections or ():
        name = getattr(node, "name", "") or ""
        if name.startswith("timeTo") or _wants_durations(getattr(node, "selections", None)):
            return True
    return False


@strawberry.type
class AnalyticsQueries:
    @strawberry.field(name="refundStats", description=(
        "Refund statistics of the merchants in scope (all of them when merchantIds is "
        "absent) for cases requested in [from, to) (at most 366 days), computed by the "
        "database. groupBy: up to 3 dimensions. timezone: the zone of DAY/WEEK/MONTH "
        "(default: each merchant's own)."))
    async def refund_stats(
        self, info: Info, from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime, merchant_ids: list[strawberry.ID] | None = None,
        group_by: list[StatsDimension] | None = None, timezone: str | None = None,
    ) -> RefundStats:
        ctx = info.context
        try:
            query = stats_query(
                merchant_ids=[ids.tenant_id_of(m, "merchantIds") for m in merchant_ids or ()],
                start=from_, end=to, group_by=[Dimension(d.value) for d in group_by or ()],
                timezone=timezone, durations=_wants_durations(info.selected_fields))
            # Aggregates over a date range: planned for the range asked (Context.reading).
            async with ctx.reading(generic_plans=False) as uow:
                result = await service.refund_stats(uow, query)
        except DomainError as error:
            raise query_error(error) from None
        groups = [RefundStatsGroup(key=group_key(result.dimensions, key), **figure_fields(f))
                  for key, f in sorted(result.groups.items(), key=lambda kv: _order(kv[0]))]
        return RefundStats(groups=groups, complaints=ComplaintStats.of(result.complaints),
                           source=StatsSource(result.source), **figure_fields(result.total))


def _order(key: tuple[str | None, ...]) -> tuple[tuple[bool, str], ...]:
    return tuple((v is None, v or "") for v in key)
